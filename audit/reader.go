package audit

import (
	"bufio"
	"errors"
	"io"
)

// DefaultMaxLine is the default longest line a Reader accepts. The kernel
// never writes a record longer than about 9 KiB (it splits long execve
// arguments across records); auditd's enrichment adds a few hundred bytes.
const DefaultMaxLine = 64 << 10

// ReaderOptions configures a Reader.
type ReaderOptions struct {
	// MaxLine is the longest line accepted, in bytes; longer lines are
	// skipped with ReasonTooLong. 0 means DefaultMaxLine.
	MaxLine int
	// OnSkip, if set, is called for every line that is not a record
	// (blank lines and comments included), with its 1-based line number.
	OnSkip func(line int, reason Reason, text []byte)
}

// ReaderStats counts what a Reader has read.
type ReaderStats struct {
	Lines   uint64             // lines read
	Records uint64             // records returned
	Unknown uint64             // records whose type has no name (kept with their number)
	Skipped [numReasons]uint64 // lines skipped, by reason (ReasonBlank, ReasonComment, errors)
}

// Errors returns the number of lines skipped because they are not valid
// records (all reasons but blank lines and comments).
func (s *ReaderStats) Errors() uint64 {
	var n uint64
	for r := ReasonNoType; r < numReasons; r++ {
		n += s.Skipped[r]
	}
	return n
}

// Reader reads records from an audit log (audit.log, or auditd's plugin
// "string" format on stdin): one record per line. Lines that are not
// records are counted by reason and skipped, never fatal; Next returns only
// I/O errors, and io.EOF at the end.
//
// Records are carved out of large shared buffers, so reading costs about
// one allocation per hundred records; a record kept alive keeps its
// buffers alive (see Record.Clone). A Reader is not safe for concurrent
// use.
type Reader struct {
	br      *bufio.Reader
	opts    ReaderOptions
	p       parser
	stats   ReaderStats
	slab    []byte
	fslab   []field
	rslab   []Record
	tooLong bool // in the middle of discarding an over-long line
}

// NewReader returns a Reader reading from r.
func NewReader(r io.Reader, opts ReaderOptions) *Reader {
	if opts.MaxLine <= 0 {
		opts.MaxLine = DefaultMaxLine
	}
	return &Reader{br: bufio.NewReaderSize(r, opts.MaxLine+2), opts: opts}
}

// Stats returns the counts so far.
func (rd *Reader) Stats() ReaderStats { return rd.stats }

// Next returns the next record.
func (rd *Reader) Next() (*Record, error) {
	for {
		line, err := rd.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if !rd.tooLong {
				rd.tooLong = true
				rd.stats.Lines++
				rd.skip(ReasonTooLong, line[:min(len(line), 256)])
			}
			continue
		}
		if rd.tooLong {
			// the end of an over-long line
			rd.tooLong = false
			if err != nil {
				return nil, err
			}
			continue
		}
		if len(line) == 0 && err != nil {
			return nil, err
		}
		rd.stats.Lines++
		rec, reason := rd.parse(trimEOL(line))
		if rec != nil {
			rd.stats.Records++
			if !rec.Type.Known() {
				rd.stats.Unknown++
			}
			return rec, nil
		}
		rd.skip(reason, line)
		if err != nil {
			return nil, err
		}
	}
}

func (rd *Reader) skip(reason Reason, text []byte) {
	rd.stats.Skipped[reason]++
	if rd.opts.OnSkip != nil {
		rd.opts.OnSkip(int(rd.stats.Lines), reason, text)
	}
}

func (rd *Reader) parse(line []byte) (*Record, Reason) {
	i := skipSpace(line, 0)
	if i == len(line) {
		return nil, ReasonBlank
	}
	if line[i] == '#' {
		return nil, ReasonComment
	}
	if len(rd.rslab) == 0 {
		rd.rslab = make([]Record, 256)
	}
	r := &rd.rslab[0]
	r.text = rd.carve(line)
	if err := rd.p.parseLine(r); err != nil {
		*r = Record{}
		return nil, err.(*ParseError).Reason
	}
	rd.rslab = rd.rslab[1:]
	n := len(rd.p.fields)
	if len(rd.fslab) < n {
		rd.fslab = make([]field, max(4096, n))
	}
	r.fields = rd.fslab[:n:n]
	copy(r.fields, rd.p.fields)
	rd.fslab = rd.fslab[n:]
	return r, ReasonNone
}

// carve copies b into the shared slab.
func (rd *Reader) carve(b []byte) []byte {
	if len(rd.slab) < len(b) {
		rd.slab = make([]byte, max(256<<10, len(b)))
	}
	out := rd.slab[:len(b):len(b)]
	copy(out, b)
	rd.slab = rd.slab[len(b):]
	return out
}
