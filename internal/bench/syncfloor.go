package bench

import (
	"os"
	"runtime"
	"slices"
	"syscall"
	"time"
)

// SyncFloor is what making one small append durable costs on the file
// system of the Tollgates' data directories: the least a call answered
// with FULL durability waits for, whatever the gateway does, and the CPU
// (mostly the kernel's) that one sync takes, which a commit group shares
// among its calls.
type SyncFloor struct {
	Syncs int     `json:"syncs"`
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
	// CPUMicros is the user+system CPU time of one append and sync, in
	// µs: the measuring thread's total over the syncs divided by their
	// number. Zero where the thread's CPU time cannot be read.
	CPUMicros float64 `json:"cpuMicros,omitempty"`
}

// syncFloorSyncs is how many 4 KiB appends measureSyncFloor syncs.
const syncFloorSyncs = 200

// measureSyncFloor appends 4 KiB to a new file in dir and fsyncs it, n
// times one after the other, and returns the latency of each append and
// sync and their CPU time. The file is removed.
func measureSyncFloor(dir string, n int) (SyncFloor, error) {
	f, err := os.CreateTemp(dir, "sync-floor-")
	if err != nil {
		return SyncFloor{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 0, n)
	// The loop stays on one thread, so that thread's CPU time is the
	// syncs' (and the little the loop itself takes).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, cpuOK := threadCPU()
	for range n {
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			return SyncFloor{}, err
		}
		if err := f.Sync(); err != nil {
			return SyncFloor{}, err
		}
		lat = append(lat, time.Since(start))
	}
	cpu1, cpuOK1 := threadCPU()
	slices.Sort(lat)
	q := func(p float64) float64 { return round3(ms(lat[min(len(lat)-1, int(p*float64(len(lat))))])) }
	sf := SyncFloor{Syncs: n, P50Ms: q(0.50), P99Ms: q(0.99)}
	if cpuOK && cpuOK1 && n > 0 {
		sf.CPUMicros = round3(float64(cpu1-cpu0) / float64(time.Microsecond) / float64(n))
	}
	return sf, nil
}

// threadCPU returns the calling thread's user+system CPU time.
func threadCPU() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD, Linux
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
