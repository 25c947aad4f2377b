package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// child is a process the harness started: an upstream, a Tollgate or
// another gateway. Its standard output and error go to a file in the
// harness's temporary directory, so writing them costs it what writing a
// log file costs, and the harness spends nothing reading them.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string        // path of its output file
	tree bool          // measure (and stop) its whole process group
	done chan struct{} // closed when it has exited
	err  error         // its exit, once done is closed
}

// childEnv is the environment of the processes the harness starts: the
// harness's own without any TOLLGATE_* variable, so that no operator
// setting (TOLLGATE_STORE, TOLLGATE_DATA_DIR, ...) points a bench
// Tollgate at real data.
func childEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TOLLGATE_") {
			env = append(env, kv)
		}
	}
	return env
}

// startChild starts argv as name, its output in dir/name.log. A tree
// child (another gateway) gets a process group of its own, measured and
// stopped as a whole, and runs in the harness's working directory, so
// that its command may name files relative to it; the others run in dir.
func startChild(name, dir string, tree bool, argv ...string) (*child, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = childEnv()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = childAttr(tree)
	if !tree {
		cmd.Dir = dir
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, tree: tree, done: make(chan struct{})}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	return c, nil
}

// waitLine waits until the child's output has a line starting with
// prefix and returns the rest of that line; it fails when the child
// exits first or timeout passes, with the end of its output.
func (c *child) waitLine(ctx context.Context, prefix string, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	for {
		if rest, ok := c.findLine(prefix); ok {
			return rest, nil
		}
		select {
		case <-c.done:
			if rest, ok := c.findLine(prefix); ok {
				return rest, nil
			}
			return "", fmt.Errorf("bench: %s exited (%v) before it was ready%s", c.name, c.err, c.tail())
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("bench: %s not ready after %v%s", c.name, timeout, c.tail())
		}
	}
}

func (c *child) findLine(prefix string) (string, bool) {
	f, err := os.Open(c.log)
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return rest, true
		}
	}
	return "", false
}

// tail returns the last lines of the child's output, for an error.
func (c *child) tail() string {
	b, err := os.ReadFile(c.log)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "; its last output:\n  " + strings.Join(lines, "\n  ")
}

// cpu returns the CPU time the child (or its process tree) has used.
func (c *child) cpu(fs procFS) (time.Duration, error) {
	if c.tree {
		return fs.treeCPU(c.cmd.Process.Pid)
	}
	return fs.processCPU(c.cmd.Process.Pid)
}

// stop asks the child (its process group, for a tree) to stop with
// SIGTERM, and kills it after grace.
func (c *child) stop(grace time.Duration) error {
	select {
	case <-c.done:
		return nil
	default:
	}
	pid := c.cmd.Process.Pid
	signal := func(sig syscall.Signal) {
		if c.tree {
			_ = signalGroup(pid, sig)
		} else {
			_ = c.cmd.Process.Signal(sig)
		}
	}
	signal(syscall.SIGTERM)
	select {
	case <-c.done:
		if c.tree {
			// What of the group outlives its leader goes too.
			time.Sleep(100 * time.Millisecond)
			signal(syscall.SIGKILL)
		}
		return nil
	case <-time.After(grace):
	}
	signal(syscall.SIGKILL)
	<-c.done
	return errors.New("bench: " + c.name + " did not stop on SIGTERM and was killed")
}
