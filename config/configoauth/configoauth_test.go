package configoauth

import (
	"encoding/json"
	"testing"
)

func TestExpiresIn(t *testing.T) {
	for in, want := range map[string]ExpiresIn{
		`3600`: 3600, `"3599"`: 3599, `" 60 "`: 60, `3600.0`: 3600, `"300.5"`: 300,
		`null`: 0, `"soon"`: 0, `-5`: 0, `0`: 0, `true`: 0, `1e12`: 1e9,
	} {
		var v struct {
			E ExpiresIn `json:"expires_in"`
		}
		if err := json.Unmarshal([]byte(`{"expires_in":`+in+`}`), &v); err != nil || v.E != want {
			t.Errorf("expires_in %s: %d, %v; want %d", in, v.E, err, want)
		}
	}
}
