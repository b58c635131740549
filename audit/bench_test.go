package audit

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// benchLog returns every record line of the shared logs, once.
func benchLog(b *testing.B) []byte {
	dir := sharedAuditDir(b)
	var buf bytes.Buffer
	for _, f := range corpusFiles(b, dir) {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range bytes.Split(data, []byte("\n")) {
			if bytes.Contains(l, []byte("msg=audit(")) {
				buf.Write(l)
				buf.WriteByte('\n')
			}
		}
	}
	return buf.Bytes()
}

// BenchmarkReadReassemble: Reader + Reassembler over the shared logs;
// reports records/s.
func BenchmarkReadReassemble(b *testing.B) {
	data := benchLog(b)
	n := bytes.Count(data, []byte("\n"))
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		re := NewReassembler(ReassemblerConfig{OnEvent: func(*Event) {}})
		if _, err := ReadAll(bytes.NewReader(data), re, ReaderOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkParse: Parse alone, one allocation-owning record per line.
func BenchmarkParse(b *testing.B) {
	lines := bytes.Split(bytes.TrimSpace(benchLog(b)), []byte("\n"))
	b.ResetTimer()
	for i := range b.N {
		if _, err := Parse(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGet: field lookup by name in a SYSCALL record.
func BenchmarkGet(b *testing.B) {
	r, err := Parse([]byte(`type=SYSCALL msg=audit(1364481363.243:24287): arch=c000003e syscall=2 success=no exit=-13 a0=7fffd19c5592 a1=0 a2=7fffd19c4b50 a3=a items=1 ppid=2686 pid=3538 auid=500 uid=500 gid=500 euid=500 suid=500 fsuid=500 egid=500 sgid=500 fsgid=500 tty=pts0 ses=1 comm="cat" exe="/bin/cat" key="sshd_config"`))
	if err != nil {
		b.Fatal(err)
	}
	keys := []string{"arch", "pid", "exe", "key", "fsgid", "missing"}
	b.ResetTimer()
	for i := range b.N {
		r.Raw(keys[i%len(keys)])
	}
}
