package fec

import (
	"bytes"
	"os"
	"runtime"
	"testing"
	"time"
)

func TestFileSpeed(t *testing.T) {
	d, _ := os.Open("/dev/shm/fectest/data")
	h, _ := os.Open("/dev/shm/fectest/hash")
	hb, _ := os.ReadFile("/dev/shm/fectest/hash")
	_ = h
	fi, _ := d.Stat()
	dataBlocks := uint64(fi.Size() / 4096)
	msgBlocks := dataBlocks + uint64(len(hb)/4096) - 1
	msg := &concat{d, int64(dataBlocks * 4096), bytes.NewReader(hb[4096:])}
	want, _ := os.ReadFile("/dev/shm/fectest/fec")
	for _, procs := range []int{1, 2, 2} {
		runtime.GOMAXPROCS(procs)
		out, _ := os.Create("/dev/shm/fectest/mine")
		start := time.Now()
		if err := Encode(msg, msgBlocks, Params{4096, 2}, out, 0); err != nil {
			t.Fatal(err)
		}
		el := time.Since(start)
		out.Close()
		got, _ := os.ReadFile("/dev/shm/fectest/mine")
		t.Logf("procs %d: %v %.0f MB/s equal=%v", procs, el, float64(msgBlocks*4096)/el.Seconds()/1e6, bytes.Equal(got, want))
	}
}

type concat struct {
	a    *os.File
	size int64
	b    *bytes.Reader
}

func (c *concat) ReadAt(p []byte, off int64) (int, error) {
	if off >= c.size {
		return c.b.ReadAt(p, off-c.size)
	}
	if off+int64(len(p)) <= c.size {
		return c.a.ReadAt(p, off)
	}
	n, err := c.a.ReadAt(p[:c.size-off], off)
	if err != nil {
		return n, err
	}
	m, err := c.b.ReadAt(p[n:], 0)
	return n + m, err
}
