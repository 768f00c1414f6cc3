//go:build ignore

// gzlevels compresses every regular file under DIR in one gzip stream, at
// the default level (what `ferry backup` uses) and at BestSpeed, and prints
// each one's output size and time: what the level of a backup's archive
// would trade. Usage: go run .ci/bench/gzlevels.go DIR
package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: go run .ci/bench/gzlevels.go DIR")
		os.Exit(2)
	}
	for _, lvl := range []int{gzip.DefaultCompression, gzip.BestSpeed} {
		c := &counter{}
		zw, _ := gzip.NewWriterLevel(c, lvl)
		var in int64
		start := time.Now()
		err := filepath.WalkDir(os.Args[1], func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			n, err := io.Copy(zw, f)
			in += n
			return err
		})
		if err == nil {
			err = zw.Close()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		fmt.Printf("level %d: %d MiB in, %d MiB out (%.1f %%), %.2f s\n", lvl, in>>20, c.n>>20, 100*float64(c.n)/float64(in), time.Since(start).Seconds())
	}
}
