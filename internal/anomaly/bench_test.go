package anomaly

import "testing"

// BenchmarkDetectorRun times one hourly evaluation of one value: the five
// weeks of history and a day judged (37 days of hours).
func BenchmarkDetectorRun(b *testing.B) {
	v := evalGenerate(evalProfiles[1], 1).values[:37*24]
	d := NewDetector(DetectorConfig{})
	for b.Loop() {
		d.Run(detStart, v, nil)
	}
}
