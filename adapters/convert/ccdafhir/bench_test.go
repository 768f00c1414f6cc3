package ccdafhir

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkConvert converts corpus CCDs of about 100 KB, including the JSON
// encoding of the Bundle (what the pipeline queues). docs/s is per core
// with -cpu 1.
func BenchmarkConvert(b *testing.B) {
	for _, name := range []string{"170.314B2_Amb_CCD.xml", "Patient-1.xml", "C-CDA_R2-1_CCD.xml"} {
		raw, err := os.ReadFile(filepath.Join(corpusDir, name))
		if err != nil {
			b.Skip("corpus not present")
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				bun, _, err := ConvertBytes(raw, Options{})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(bun); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "docs/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "docs/cpu-s")
			}
		})
	}
}
