package bench

import "syscall"

// childAttr gives a child the SIGTERM Linux sends when the harness dies
// (so a killed harness leaves no server behind) and, for a tree, a
// process group of its own.
func childAttr(tree bool) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: tree, Pdeathsig: syscall.SIGTERM}
}

// signalGroup sends sig to the process group pid leads.
func signalGroup(pid int, sig syscall.Signal) error { return syscall.Kill(-pid, sig) }
