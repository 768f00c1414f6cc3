package folder

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/ferry-health/ferry/adapters"
)

func TestLifecycle(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rec := &recorder{}

	// Shutdown without Start, twice.
	e, err := New(adapters.Settings{}, testConfig(dir), rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx, nil); err == nil {
		t.Fatal("start after shutdown succeeded")
	}

	// Start, Start again, Shutdown twice; then a new engine on the same folder.
	for i := 0; i < 2; i++ {
		e, err := New(adapters.Settings{}, testConfig(dir), rec)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Start(ctx, nil); err != nil {
			t.Fatal(err)
		}
		if err := e.Start(ctx, nil); err == nil {
			t.Fatal("second start succeeded")
		}
		waitPasses(t, e, 1)
		if err := e.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if err := e.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// A missing folder fails Start with the reason.
	cfg := testConfig(filepath.Join(dir, "nope"))
	e, err = New(adapters.Settings{}, cfg, rec)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(ctx, nil); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("start on a missing folder: %v", err)
	}
	if err := e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestShutdownDoesNotWaitForeverOnConsumer(t *testing.T) {
	dir := t.TempDir()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	stuck := &recorder{fn: func(context.Context, int, adapters.Raw) error {
		entered <- struct{}{}
		<-release // ignores its context
		return nil
	}}
	e, err := New(adapters.Settings{}, testConfig(dir), stuck)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	dropFile(t, dir, "s.hl7", []byte("MSH|s"))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := e.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown = %v, want deadline exceeded", err)
	}
	close(release)
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestConfigValidate(t *testing.T) {
	good := Config{Name: "ehr", Kind: "ehr", Path: "/srv/exports"}
	if err := good.Validate(); err != nil {
		t.Fatalf("minimal config: %v", err)
	}
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"no path", func(c *Config) { c.Path = " " }, "path: must name"},
		{"kind", func(c *Config) { c.Kind = "scanner" }, `kind: must be one of ehr, fax, hylafax; got "scanner"`},
		{"settle", func(c *Config) { c.Settle = -time.Second }, "settle: must not be negative"},
		{"rescan", func(c *Config) { c.Rescan = -time.Second }, "rescan: must not be negative"},
		{"after", func(c *Config) { c.After = "archive" }, `after: must be move or delete; got "archive"`},
		{"ignore", func(c *Config) { c.Ignore = []string{"*.tmp", "[x"} }, `ignore[1]: bad pattern "[x"`},
		{"include", func(c *Config) { c.Include = []string{"[x"} }, `include[0]: bad pattern`},
		{"marker", func(c *Config) { c.MarkerSuffix = "a/b" }, "marker_suffix: must be a plain name suffix"},
		{"sidecar", func(c *Config) { c.Sidecars = []string{"json"} }, `sidecars[0]: must be an extension like .json; got "json"`},
		{"sidecar required", func(c *Config) { c.SidecarRequired = true }, "sidecar_required: needs sidecars"},
		{"retry", func(c *Config) { c.RetryInitial, c.RetryMax = time.Minute, time.Second }, "retry_max: must not be below retry_initial"},
		{"done dir", func(c *Config) { c.DoneDir = "/srv/exports/" }, "done_dir: must not be the watched folder itself"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want %q", err, tc.want)
			}
			if _, err := New(adapters.Settings{}, c, &recorder{}); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
	// Several problems are all reported.
	bad := Config{Kind: "x", After: "y"}
	err := bad.Validate()
	for _, want := range []string{"kind:", "path:", "after:"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("joined error %v lacks %q", err, want)
		}
	}
}

func TestConfigYAML(t *testing.T) {
	src := `
name: ehr
kind: ehr
path: /srv/exports
settle: 2s
rescan: 30s
after: delete
ignore: ["*.tmp"]
marker_suffix: .done
sidecars: [.json]
done_dir: /srv/done
failed_dir: /srv/failed
poll: true
max_body_bytes: 1048576
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(src))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	if c.Settle != 2*time.Second || c.Rescan != 30*time.Second || c.After != "delete" || !c.Poll ||
		c.MarkerSuffix != ".done" || c.Sidecars[0] != ".json" || c.MaxBodyBytes != 1<<20 || c.DoneDir != "/srv/done" {
		t.Fatalf("decoded %+v", c)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	d := c.withDefaults()
	if d.RetryInitial != time.Second || d.RetryMax != 5*time.Minute || len(d.Ignore) != 1 {
		t.Fatalf("defaults %+v", d)
	}
	if e := (Config{}).withDefaults(); len(e.Ignore) != len(DefaultIgnore) || e.Settle != 2*time.Second {
		t.Fatalf("zero config defaults %+v", e)
	}
}

func TestSeenFileSurvivesTornRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seen")
	s, err := OpenSeenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, b := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	if s.Seen(a) {
		t.Fatal("empty set has a")
	}
	if err := s.Add(a); err != nil {
		t.Fatal(err)
	}
	if err := s.Add(a); err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A crash in the middle of the next Add leaves half a record.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(b[:10])
	f.Close()

	s, err = OpenSeenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !s.Seen(a) || s.Seen(b) {
		t.Fatalf("after reopen: a=%v b=%v", s.Seen(a), s.Seen(b))
	}
	if err := s.Add(b); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if info, _ := os.Stat(path); info.Size() != 64 {
		t.Fatalf("file is %d bytes, want 64 (two aligned records)", info.Size())
	}
	s, err = OpenSeenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Seen(a) || !s.Seen(b) {
		t.Fatal("records lost")
	}
}

// BenchmarkClaim measures files claimed, consumed and moved to done/ per
// second: each iteration is one small file, with every fsync the engine does.
func BenchmarkClaim(b *testing.B) {
	dir := b.TempDir()
	for i := 0; i < b.N; i++ {
		writeFile(b, filepath.Join(dir, fmt.Sprintf("f%07d.hl7", i)), []byte(fmt.Sprintf("MSH|%d", i)))
	}
	cfg := testConfig(dir)
	cfg.Settle = time.Millisecond
	rec := &recorder{}
	b.ResetTimer()
	e := startEngine(b, cfg, rec)
	waitFor(b, "all consumed", func() bool { return rec.count() == b.N && len(filesUnder(b, e.Paths().Processing)) == 0 })
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
}

// TestShutdownSaysWhatItWaitsFor: a folder whose file in hand was slow
// to finish (a large fax converted, the queue's disk slow) held the
// gateway's stop without a word, where the MLLP listener says at once
// that it waits for its messages in flight; the folder now says it waits
// for its file in hand, and an idle folder stops silently.
func TestShutdownSaysWhatItWaitsFor(t *testing.T) {
	dir := t.TempDir()
	entered := make(chan struct{}, 1)
	slow := &recorder{fn: func(ctx context.Context, _ int, _ adapters.Raw) error {
		entered <- struct{}{}
		<-ctx.Done()
		return ctx.Err()
	}}
	e, lb := startLogged(t, testConfig(dir), slow, false)
	dropFile(t, dir, "s.hl7", []byte("MSH|s"))
	<-entered
	if err := e.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	l := lb.String()
	if !strings.Contains(l, "folder stopping: waiting for the file in hand") || !strings.Contains(l, "folder=test") {
		t.Errorf("the stop did not say what it waited for:\n%s", l)
	}

	idle, lb := startLogged(t, testConfig(t.TempDir()), &recorder{}, false)
	waitPasses(t, idle, 1)
	if err := idle.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(lb.String(), "stopping") {
		t.Errorf("an idle folder's stop logged:\n%s", lb.String())
	}
}
