package mllpbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-health/ferry/adapters"
	"github.com/ferry-health/ferry/adapters/hl7v2"
	"github.com/ferry-health/ferry/adapters/mllp"
	"github.com/ferry-health/ferry/queue"
)

// store is a real Consumer: it parses each message and remembers its
// control id, rejecting those whose id contains "BAD".
type store struct {
	mu  sync.Mutex
	ids []string
}

func (s *store) Consume(_ context.Context, in adapters.Raw) error {
	m, err := hl7v2.Parse(in.Body)
	if err != nil {
		return queue.Permanent(err)
	}
	if strings.Contains(m.ControlID(), "BAD") {
		return queue.Permanent(errors.New("rejected"))
	}
	s.mu.Lock()
	s.ids = append(s.ids, m.ControlID())
	s.mu.Unlock()
	return nil
}

func listen(t *testing.T, next adapters.Consumer) string {
	return listenSource(t, next).Addr().String()
}

func listenSource(t *testing.T, next adapters.Consumer) *mllp.Source {
	t.Helper()
	src, err := mllp.New(adapters.Settings{ID: "mllp/bench"}, mllp.Config{Listen: "127.0.0.1:0"}, next)
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Shutdown(context.Background()) })
	return src
}

func TestRunAgainstListener(t *testing.T) {
	st := &store{}
	addr := listen(t, st)
	out := filepath.Join(t.TempDir(), "acked.txt")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := Run(context.Background(), Config{Addr: addr, Conns: 4, Messages: 25, Acked: f, Prefix: "T"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 100 || res.Codes["AA"] != 100 || res.Accepted() != 100 || res.Errors != 0 || res.Mismatched != 0 || res.Unanswered != 0 {
		t.Fatalf("result = %+v", res)
	}
	if res.P50 <= 0 || res.Max < res.P99 || res.P99 < res.P50 {
		t.Errorf("latencies = %v %v %v", res.P50, res.P99, res.Max)
	}
	data, _ := os.ReadFile(out)
	acked := strings.Fields(string(data))
	st.mu.Lock()
	stored := slices.Clone(st.ids)
	st.mu.Unlock()
	slices.Sort(acked)
	slices.Sort(stored)
	if !slices.Equal(acked, stored) || len(slices.Compact(acked)) != 100 {
		t.Fatalf("acked ids (%d) differ from stored ids (%d)", len(acked), len(stored))
	}
	var b bytes.Buffer
	res.WriteText(&b)
	if !strings.Contains(b.String(), "AA=100") {
		t.Errorf("report:\n%s", b.String())
	}
}

func TestRunConnPerMessage(t *testing.T) {
	src := listenSource(t, &store{})
	res, err := Run(context.Background(), Config{Addr: src.Addr().String(), Conns: 2, Messages: 5, ConnPerMessage: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Accepted() != 10 || res.Errors != 0 {
		t.Fatalf("result = %+v", res)
	}
	if n := src.Stats().Connections; n != 10 {
		t.Fatalf("%d connections, want one per message", n)
	}
}

func TestRunFilesCountsAE(t *testing.T) {
	addr := listen(t, &store{})
	good := []byte("MSH|^~\\&|A|B|C|D|20260101||ADT^A08^ADT_A01|X|P|2.5\nPID|1||9^^^HOSP^MR||DOE^J\n")
	res, err := Run(context.Background(), Config{Addr: addr, Conns: 2, Messages: 10, Files: [][]byte{good, good}, Prefix: "BAD"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Codes["AE"] != 20 || res.Accepted() != 0 {
		t.Fatalf("codes = %v", res.Codes)
	}
	if _, err := Run(context.Background(), Config{Addr: addr, Files: [][]byte{[]byte("not hl7")}}); err == nil {
		t.Fatal("a file without MSH was accepted")
	}
	// A message that asks for no accept acknowledgement in some case
	// would stall the bench; it is refused up front.
	for _, m15 := range []string{"NE", "ER", "SU"} {
		quiet := []byte(strings.Replace(string(good), "|P|2.5\n", "|P|2.5|||"+m15+"|NE\n", 1))
		if _, err := Run(context.Background(), Config{Addr: addr, Files: [][]byte{quiet}}); err == nil || !strings.Contains(err.Error(), "MSH-15") {
			t.Fatalf("MSH-15 %s: err = %v", m15, err)
		}
	}
	loud := []byte(strings.Replace(string(good), "|P|2.5\n", "|P|2.5|||AL|NE\n", 1))
	if _, err := Run(context.Background(), Config{Addr: addr, Messages: 1, Files: [][]byte{loud}, Prefix: "AL"}); err != nil {
		t.Fatalf("MSH-15 AL: %v", err)
	}
}

func TestGeneratedMessagesParse(t *testing.T) {
	seen := map[string]bool{}
	for i, k := range []Kind{ADT, ORU, ADT, ORU} {
		m, err := hl7v2.Parse(Generate(k, "ID"+string(rune('A'+i)), i*37, time.Now()))
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		if m.EnhancedMode() || m.Get("PID-3-1") == "" || m.Get("PID-5-1") == "" {
			t.Errorf("%s: %q", k, m.Bytes())
		}
		seen[m.Get("PID-3-1")] = true
		if k == ORU && len(m.All("OBX")) != 5 {
			t.Errorf("ORU has %d OBX", len(m.All("OBX")))
		}
	}
	if len(seen) != 4 {
		t.Errorf("patients not varied: %v", seen)
	}
}

func TestSetControlID(t *testing.T) {
	got, err := SetControlID([]byte("MSH#^~\\&#A#B#C#D#T##ADT^A01#OLD#P#2.5\r\nPID#1\n"), "NEW1")
	if err != nil || string(got) != "MSH#^~\\&#A#B#C#D#T##ADT^A01#NEW1#P#2.5\rPID#1\r" {
		t.Fatalf("%q, %v", got, err)
	}
	if got, _ := SetControlID([]byte("MSH|^~\\&|A|B|C|D|T||ADT^A01|OLD"), "N"); string(got) != "MSH|^~\\&|A|B|C|D|T||ADT^A01|N\r" {
		t.Fatalf("%q", got)
	}
	if _, err := SetControlID([]byte("MSH|^~\\&|A"), "N"); err == nil {
		t.Fatal("short MSH accepted")
	}
}

// TestRunReconnectResends: a receiver that drops the connection before
// answering makes the tool reconnect and resend the same message, with the
// same control id.
func TestRunReconnectResends(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := mllp.NewReader(c, 0)
				for {
					f, err := r.ReadFrame()
					if err != nil {
						return
					}
					m, _ := hl7v2.Parse(f)
					mu.Lock()
					got = append(got, m.ControlID())
					mu.Unlock()
					if n == 0 {
						return // the first connection breaks before its ACK
					}
					ack := hl7v2.BuildAck(f, nil, "A", time.Now())
					if mllp.WriteFrame(c, ack.Bytes) != nil {
						return
					}
				}
			}()
		}
	}()
	res, err := Run(context.Background(), Config{Addr: ln.Addr().String(), Messages: 3, Reconnect: true, Prefix: "R"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Codes["AA"] != 3 || res.Errors != 1 || res.Unanswered != 0 {
		t.Fatalf("result = %+v", res)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "R0.0,R0.0,R0.1,R0.2" {
		t.Fatalf("receiver saw %v", got)
	}
	// Without Reconnect the connection gives up and counts the rest.
	res, _ = Run(context.Background(), Config{Addr: "127.0.0.1:1", Messages: 5, Timeout: time.Second})
	if res.Unanswered != 5 || res.Errors != 1 || res.FirstError == "" {
		t.Fatalf("unreachable: %+v", res)
	}
}

func TestRunCancel(t *testing.T) {
	// A receiver that never answers: cancelling must end the run.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Result)
	go func() {
		res, _ := Run(ctx, Config{Addr: ln.Addr().String(), Conns: 2, Messages: 3})
		done <- res
	}()
	cancel()
	res := <-done
	if res.Sent != 0 || res.Unanswered != 6 || res.Errors != 0 {
		t.Fatalf("result = %+v", res)
	}
}

// generateFmt is Generate as first written, with fmt; the append-based
// Generate must give the same bytes.
func generateFmt(k Kind, id string, pat int, t time.Time) []byte {
	p := patientFor(pat)
	ts := t.Format("20060102150405")
	var b bytes.Buffer
	typ := "ADT^A01^ADT_A01"
	if k == ORU {
		typ = "ORU^R01^ORU_R01"
	}
	fmt.Fprintf(&b, "MSH|^~\\&|BENCHEHR|CLINIC|FERRY|HIE|%s||%s|%s|P|2.5.1||||||UNICODE UTF-8\r", ts, typ, id)
	if k == ADT {
		fmt.Fprintf(&b, "EVN|A01|%s\r", ts)
	}
	fmt.Fprintf(&b, "PID|1||%s^^^HOSP^MR||%s^%s^^^^^L||%s|%s|||%s||^PRN^PH^^1^555^%07d|||||ACCT%s\r",
		p.mrn, hl7v2.DefaultDelimiters.Encode(p.fam), p.giv, p.dob, p.sex, p.addr, 1000000+pat%9000000, id)
	switch k {
	case ADT:
		fmt.Fprintf(&b, "PV1|1|I|WARD%d^%d^1^CLINIC||||1234^Welby^Marcus^^^DR|||MED||||ADM|||||V%s|||||||||||||||||||||||||%s\r",
			1+pat%6, 100+pat%40, id, ts)
		fmt.Fprintf(&b, "AL1|1|DA|^Penicillin|MO|Rash\r")
		fmt.Fprintf(&b, "DG1|1||I10^Essential (primary) hypertension^I10C||%s|A\r", ts)
	case ORU:
		fmt.Fprintf(&b, "PV1|1|O|LAB^^^CLINIC\r")
		fmt.Fprintf(&b, "ORC|RE|ORD%s|FIL%s\r", id, id)
		fmt.Fprintf(&b, "OBR|1|ORD%s|FIL%s|24323-8^Comprehensive metabolic panel^LN|||%s|||||||||1234^Welby^Marcus^^^DR||||||%s|||F\r", id, id, ts, ts)
		for i, tst := range tests {
			v := tst.base + (pat*7+i*13)%tst.spread - tst.spread/2
			val := strconv.Itoa(v)
			if tst.tenths {
				val = strconv.FormatFloat(float64(v)/10, 'f', 1, 64)
			}
			fmt.Fprintf(&b, "OBX|%d|NM|%s^%s^LN||%s|%s|%s-%s|N|||F|||%s\r", i+1, tst.code, tst.name, val, tst.unit, tst.low, tst.high, ts)
		}
	}
	return b.Bytes()
}

// TestGenerateMatchesFmt: the fast generator writes exactly the messages
// the fmt-based one did, for every kind and many patients.
func TestGenerateMatchesFmt(t *testing.T) {
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, k := range []Kind{ADT, ORU} {
		for pat := 0; pat < 3000; pat += 7 {
			id := "X" + strconv.Itoa(pat)
			if got, want := Generate(k, id, pat, at), generateFmt(k, id, pat, at); !bytes.Equal(got, want) {
				t.Fatalf("%s patient %d:\n got %q\nwant %q", k, pat, got, want)
			}
		}
	}
}
