package ccdafhir

import (
	"encoding/json"
	"os"
	"testing"
)

// TestDump writes the Bundle of $CCDA_DUMP to stdout, for checking by eye.
func TestDump(t *testing.T) {
	f := os.Getenv("CCDA_DUMP")
	if f == "" {
		t.Skip("set CCDA_DUMP=file.xml")
	}
	raw, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	b, res, err := ConvertBytes(raw, Options{NoBinary: os.Getenv("CCDA_BINARY") == ""})
	if err != nil {
		t.Fatal(err)
	}
	js, _ := json.MarshalIndent(b, "", " ")
	os.Stdout.Write(js)
	rs, _ := json.Marshal(res)
	os.Stdout.Write(append([]byte("\n"), rs...))
}
