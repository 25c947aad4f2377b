package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc (USER_HZ), which Linux
// fixes at 100 per second for user space on every architecture Go
// supports but alpha.
const clockTick = 10 * time.Millisecond

// procFS reads CPU times from a /proc file system mounted at its root
// ("/proc" on Linux; a directory of fake files in tests).
type procFS string

// hostProc is the machine's /proc.
const hostProc procFS = "/proc"

// procStat is the part of /proc/PID/stat the harness reads.
type procStat struct {
	PID, PPID int
	// CPU is user+system time of the process itself; Children is that of
	// its children it has waited for (cutime+cstime).
	CPU, Children time.Duration
}

// stat reads /proc/PID/stat.
func (fs procFS) stat(pid int) (procStat, error) {
	b, err := os.ReadFile(filepath.Join(string(fs), strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

// parseStat parses a /proc/PID/stat line: "pid (comm) state ppid ...",
// where comm may hold spaces and parentheses, so the fields are counted
// from the last ')'.
func parseStat(b []byte) (procStat, error) {
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return procStat{}, errors.New("proc stat: no command name")
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b[:open])))
	if err != nil {
		return procStat{}, fmt.Errorf("proc stat: pid: %w", err)
	}
	// After ")": state(3) ppid(4) ... utime(14) stime(15) cutime(16)
	// cstime(17), numbered as in proc(5).
	f := strings.Fields(string(b[end+1:]))
	if len(f) < 15 {
		return procStat{}, fmt.Errorf("proc stat: %d fields after the command, want at least 15", len(f))
	}
	var n [5]int64
	for i, field := range []int{4, 14, 15, 16, 17} {
		if n[i], err = strconv.ParseInt(f[field-3], 10, 64); err != nil {
			return procStat{}, fmt.Errorf("proc stat: field %d: %w", field, err)
		}
	}
	return procStat{PID: pid, PPID: int(n[0]),
		CPU:      time.Duration(n[1]+n[2]) * clockTick,
		Children: time.Duration(n[3]+n[4]) * clockTick}, nil
}

// processCPU returns the user+system CPU time pid has used.
func (fs procFS) processCPU(pid int) (time.Duration, error) {
	s, err := fs.stat(pid)
	return s.CPU, err
}

// memory returns the resident set size of pid and its peak (VmRSS and
// VmHWM of /proc/PID/status), in bytes.
func (fs procFS) memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(filepath.Join(string(fs), strconv.Itoa(pid), "status"))
	if err != nil {
		return 0, 0, err
	}
	return parseStatusMemory(b)
}

// parseStatusMemory reads VmRSS and VmHWM ("VmRSS:\t  12345 kB") from
// /proc/PID/status.
func parseStatusMemory(b []byte) (rss, peak int64, err error) {
	found := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("proc status: %s: %q", name, strings.TrimSpace(rest))
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("proc status: %s: %w", name, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("proc status: no VmRSS and VmHWM")
	}
	return rss, peak, nil
}

// treeCPU returns the user+system CPU time of pid and of every process
// descended from it, the living ones read directly and those already
// waited for through their parents' cutime+cstime: a gateway started
// through a shell or npx runs in child processes.
func (fs procFS) treeCPU(pid int) (time.Duration, error) {
	root, err := fs.stat(pid)
	if err != nil {
		return 0, err
	}
	ents, err := os.ReadDir(string(fs))
	if err != nil {
		return 0, err
	}
	children := map[int][]procStat{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || p == pid {
			continue
		}
		s, err := fs.stat(p)
		if err != nil {
			continue // exited while we looked, or not a process
		}
		children[s.PPID] = append(children[s.PPID], s)
	}
	total := time.Duration(0)
	seen := map[int]bool{}
	var walk func(s procStat)
	walk = func(s procStat) {
		if seen[s.PID] {
			return
		}
		seen[s.PID] = true
		total += s.CPU + s.Children
		for _, c := range children[s.PID] {
			walk(c)
		}
	}
	walk(root)
	return total, nil
}

// busyCPU returns the CPU time every processor of the machine has spent
// busy (user, nice, system, irq, softirq, steal) since boot, from the
// "cpu" line of /proc/stat.
func (fs procFS) busyCPU() (time.Duration, error) {
	b, err := os.ReadFile(filepath.Join(string(fs), "stat"))
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("proc stat: no aggregate cpu line")
	}
	var busy int64
	// user nice system idle iowait irq softirq steal: all but idle and
	// iowait (guest time is already inside user).
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		n, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("proc stat: cpu field %d: %w", i, err)
		}
		busy += n
	}
	return time.Duration(busy) * clockTick, nil
}
