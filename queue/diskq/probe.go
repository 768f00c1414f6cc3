package diskq

import (
	"fmt"
	"os"
	"time"
)

// ProbeBlock is the size of each write ProbeFlush makes: one page, about
// what a converted HL7 v2 message's record takes.
const ProbeBlock = directAlign

// ProbeFlush measures n commits of one ProbeBlock each, made the way a
// queue in dir makes them: a direct write where the queue writes directly
// (see direct.go), a buffered one otherwise, then fdatasync. It works in
// a scratch file that it fills with zeros and syncs first (as the queue
// pre-zeroes its segments) and removes. direct says which way was
// measured. `ferry doctor` reports it: every MLLP ACK waits for one such
// commit.
func ProbeFlush(dir string, n int) (lat []time.Duration, direct bool, err error) {
	f, err := os.CreateTemp(dir, ".ferry-probe-*")
	if err != nil {
		return nil, false, err
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	size := int64(n) * ProbeBlock
	for off := int64(0); off < size; off += prezeroChunk {
		if _, err := f.WriteAt(zeroBlock[:min(prezeroChunk, size-off)], off); err != nil {
			return nil, false, fmt.Errorf("prepare %s: %w", f.Name(), err)
		}
	}
	if err := f.Sync(); err != nil {
		return nil, false, fmt.Errorf("prepare %s: %w", f.Name(), err)
	}
	var dio *directFile
	if directSupported(dir) {
		dio = openDirect(f.Name())
	}
	defer dio.close()
	page := alignedBuffer(ProbeBlock)
	for i := range page {
		page[i] = byte(i)
	}
	lat = make([]time.Duration, 0, n)
	for i := range n {
		off := int64(i) * ProbeBlock
		start := time.Now()
		if dio != nil {
			err = dio.pwrite(page, off)
		} else {
			_, err = f.WriteAt(page, off)
		}
		if err != nil {
			return nil, false, fmt.Errorf("write %s: %w", f.Name(), err)
		}
		if err := datasync(f); err != nil {
			return nil, false, fmt.Errorf("flush %s: %w", f.Name(), err)
		}
		lat = append(lat, time.Since(start))
	}
	return lat, dio != nil, nil
}
