package hl7v2

import (
	"strings"
	"testing"
	"time"
)

func TestProcessingIDs(t *testing.T) {
	s, err := ParseProcessingIDs([]string{"P", " t "})
	if err != nil {
		t.Fatal(err)
	}
	if s != Production|Training || s.String() != "P, T" {
		t.Fatalf("set %v (%d)", s, s)
	}
	for id, want := range map[string]bool{"P": true, "p": true, "": true, "T": true, "D": false, "X": false, "PT": false} {
		if got := s.Accepts(id); got != want {
			t.Errorf("Accepts(%q) = %v", id, got)
		}
	}
	if ProcessingIDs(0).Accepts("P") || ProcessingIDs(0).String() != "none" {
		t.Error("empty set accepts P")
	}
	for _, bad := range [][]string{{"P", "X"}, {""}, {"production"}} {
		_, err := ParseProcessingIDs(bad)
		if err == nil || !strings.Contains(err.Error(), "table 0103") || !strings.HasPrefix(err.Error(), "[") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// A message of a processing id the receiver does not take is answered AR
// with ERR-3 202 at MSH-11, the ACK keeping the message's own processing
// id (the answer to a training message is a training message).
func TestProcessingIDErrorAck(t *testing.T) {
	m := []byte("MSH|^~\\&|SEND|FAC|FERRY|HIE|20261125120000||ADT^A01^ADT_A01|Z1|T|2.5.1\rPID|1||Z1^^^HOSP^MR\r")
	a := BuildAck(m, ProcessingIDError("T", Production), "X", time.Now())
	got := string(a.Bytes)
	for _, want := range []string{"|ACK^A01^ACK|X|T|2.5.1\r", "MSA|AR|Z1\r", "ERR||MSH^1^11|202^Unsupported processing id^HL70357|E||||processing id \"T\" (training) is not accepted here (accepted: P)"} {
		if !strings.Contains(got, want) {
			t.Errorf("ACK lacks %q:\n%q", want, got)
		}
	}
	if a.Code != CodeAR {
		t.Errorf("code %s", a.Code)
	}
}
