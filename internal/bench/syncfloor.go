package bench

import (
	"os"
	"slices"
	"time"
)

// SyncFloor is what making one small append durable costs on the file
// system of the Tollgates' data directories: the least a call answered
// with FULL durability waits for, whatever the gateway does.
type SyncFloor struct {
	Syncs int     `json:"syncs"`
	P50Ms float64 `json:"p50Ms"`
	P99Ms float64 `json:"p99Ms"`
}

// syncFloorSyncs is how many 4 KiB appends measureSyncFloor syncs.
const syncFloorSyncs = 200

// measureSyncFloor appends 4 KiB to a new file in dir and fsyncs it, n
// times one after the other, and returns the latency of each append and
// sync. The file is removed.
func measureSyncFloor(dir string, n int) (SyncFloor, error) {
	f, err := os.CreateTemp(dir, "sync-floor-")
	if err != nil {
		return SyncFloor{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	lat := make([]time.Duration, 0, n)
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
	slices.Sort(lat)
	q := func(p float64) float64 { return round3(ms(lat[min(len(lat)-1, int(p*float64(len(lat))))])) }
	return SyncFloor{Syncs: n, P50Ms: q(0.50), P99Ms: q(0.99)}, nil
}
