//go:build !linux

package bench

import (
	"errors"
	"syscall"
)

// childAttr is nil where the harness does not run (it reads /proc).
func childAttr(bool) *syscall.SysProcAttr { return nil }

func signalGroup(int, syscall.Signal) error {
	return errors.New("process groups are not supported here")
}
