package mllp

import "testing"

// TestConnectionsLeavesOutRefused: Stats.Connections is documented as the
// connections accepted from allowed addresses, but one closed at accept
// for max_conns (or max_conns_per_ip) was counted in it as well as in
// Rejected, so a sender refused in a reconnect loop showed as a
// connection taken each time. Only connections served are counted.
func TestConnectionsLeavesOutRefused(t *testing.T) {
	s := start(t, Config{MaxConns: 1}, &recorder{})
	c1 := dial(t, s)
	if code, _ := msa(c1.roundTrip(t, msg("A"))); code != "AA" {
		t.Fatal("first connection")
	}
	for range 3 {
		c := dial(t, s)
		if _, err := c.r.ReadFrame(); err == nil {
			t.Fatal("a connection over max_conns was answered")
		}
	}
	st := waitStats(t, s, func(st Stats) bool { return st.Rejected == 3 })
	if st.Connections != 1 {
		t.Errorf("Connections = %d with 1 connection served and %d refused at accept; want 1", st.Connections, st.Rejected)
	}
}
