package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeYAML feeds arbitrary documents to DecodeYAML and Validate:
// neither may panic, and decoding is deterministic.
func FuzzDecodeYAML(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("providers:\n  - &p {name: a, type: sim}\n  - *p\nroutes: [{provider: a, models: ['[']}]\n"))
	f.Add([]byte("shutdownTimeout: 1e400h\nprofileQuota: 99999999999999999999\n"))
	f.Add([]byte("---\nregion: us-east-1\n---\nregion: eu-west-1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Default()
		err := c.DecodeYAML(data)
		_ = c.Validate() // whatever a failed decode left behind, too
		if err != nil {
			return
		}
		again := Default()
		if err := again.DecodeYAML(data); err != nil {
			t.Fatalf("second DecodeYAML failed: %v", err)
		}
		if (c.Validate() == nil) != (again.Validate() == nil) {
			t.Errorf("Validate differs between two decodes of the same document")
		}
	})
}
