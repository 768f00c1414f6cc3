package sftpdrop

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/ferry-health/ferry/config/configssh"
	"github.com/ferry-health/ferry/queue"
)

// BenchmarkSend writes 10 KB bundles (an HL7 v2 ADT's size), and 8 MB
// ones (a long fax), one after another: create, write, flush (when the server offers fsync@openssh.com),
// close, rename. By default against pkg/sftp's server in process (no
// fsync); with FERRY_SFTP_URL, FERRY_SFTP_KEY and FERRY_SFTP_KNOWN_HOSTS
// against a real server, e.g. OpenSSH's sshd as .ci/interop/sftp.sh runs
// it:
//
//	go test -run '^$' -bench Send/10KB -benchtime 2000x ./transport/sftpdrop/
//	go test -run '^$' -bench Send/8192KB -benchtime 20x ./transport/sftpdrop/
//	FERRY_SFTP_URL=sftp://root@127.0.0.1:PORT/DIR FERRY_SFTP_KEY=KEY FERRY_SFTP_KNOWN_HOSTS=FILE go test -run '^$' -bench Send/10KB -benchtime 2000x ./transport/sftpdrop/
func BenchmarkSend(b *testing.B) {
	cfg := Config{URL: os.Getenv("FERRY_SFTP_URL"), Options: Options{Login: configssh.Login{KeyFile: os.Getenv("FERRY_SFTP_KEY"), KnownHosts: os.Getenv("FERRY_SFTP_KNOWN_HOSTS")}}, Timeout: 10 * time.Second}
	if cfg.URL == "" {
		cfg = newFixture(b).cfg
	}
	s, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	defer s.Close(ctx)
	for _, size := range []int{10 << 10, 8 << 20} {
		b.Run(fmt.Sprintf("%dKB", size>>10), func(b *testing.B) {
			body := bytes.Repeat([]byte("x"), size)
			b.SetBytes(int64(len(body)))
			i := 0
			for b.Loop() {
				i++
				if err := s.Send(ctx, &queue.Item{ID: fmt.Sprintf("01BENCH%d-%08d", size, i), Body: body}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "files/s")
		})
	}
}
