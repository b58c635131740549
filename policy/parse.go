package policy

import (
	"runtime"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Parsing large policies.
//
// hclsyntax lexes a whole file into one token slice before parsing it, and
// the loader used to keep every block's syntax tree until all blocks were
// declared. For a generated policy of several megabytes that meant
// millions of tokens in slices regrown many times, and a syntax tree of
// about four times the size of the loaded policy, all live at once, which
// dominated load time and peak memory. parseStream therefore cuts each
// file into segments at top-level block boundaries, parses the segments in
// parallel with their true start positions (so every range is the same as
// for a whole-file parse), and hands them to the loader in file order; the
// loader decodes each block as it comes and drops its syntax tree. The
// cutter is conservative: it gives up on anything it does not fully
// understand (heredocs, template interpolation, unbalanced brackets), and
// a segment with a diagnostic makes its whole file be parsed again in one
// piece, so that diagnostics are exactly those of a whole-file parse.

// segmentMin is the smallest segment worth parsing separately.
const segmentMin = 64 << 10

// segment is a byte range of a source starting at a line start.
type segment struct {
	src   []byte
	start hcl.Pos
}

// splitTopLevel cuts src into segments of at least about min bytes that end
// after a newline at bracket depth 0, outside strings and comments. It
// returns nil when src is small or uses syntax the cutter does not track.
func splitTopLevel(src []byte, min int) []segment {
	if len(src) < 2*min {
		return nil
	}
	var segs []segment
	depth := 0
	line := 1
	segStart, segLine := 0, 1
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch c {
		case '\n':
			line++
			if depth == 0 && i+1-segStart >= min && len(src)-(i+1) >= min {
				segs = append(segs, segment{src[segStart : i+1], hcl.Pos{Line: segLine, Column: 1, Byte: segStart}})
				segStart, segLine = i+1, line
			}
		case '{', '[', '(':
			depth++
		case '}', ']', ')':
			depth--
			if depth < 0 {
				return nil
			}
		case '#':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case '/':
			if i+1 < len(src) && src[i+1] == '/' {
				for i+1 < len(src) && src[i+1] != '\n' {
					i++
				}
			} else if i+1 < len(src) && src[i+1] == '*' {
				i += 2
				for ; i+1 < len(src) && !(src[i] == '*' && src[i+1] == '/'); i++ {
					if src[i] == '\n' {
						line++
					}
				}
				if i+1 >= len(src) {
					return nil
				}
				i++
			}
		case '<':
			if i+1 < len(src) && src[i+1] == '<' {
				return nil // heredoc
			}
		case '"':
			for i++; ; i++ {
				if i >= len(src) || src[i] == '\n' {
					return nil
				}
				switch src[i] {
				case '\\':
					i++
					continue
				case '$', '%':
					if i+1 < len(src) && src[i+1] == '{' {
						return nil // template interpolation or directive
					}
					continue
				case '"':
				default:
					continue
				}
				break
			}
		}
	}
	if depth != 0 || len(segs) == 0 {
		return nil
	}
	return append(segs, segment{src[segStart:], hcl.Pos{Line: segLine, Column: 1, Byte: segStart}})
}

// parsedFile is the result of parsing a source or a segment of one.
type parsedFile struct {
	blocks []*hcl.Block
	diags  hcl.Diagnostics
	// syntax reports syntax errors: then blocks is empty, whatever the
	// source holds.
	syntax bool
}

// parseStream parses srcs and calls emit, in source order, with the
// top-level blocks of each segment (segMin as for splitTopLevel).
// Segments are parsed in parallel, a few ahead of emit, so that the
// syntax trees of a large policy are never all in memory at once.
//
// When a segment of a split file has diagnostics, the rest of its file is
// not emitted segment by segment: emit receives the whole file parsed in
// one piece (whole is true), so that diagnostics are exactly those of a
// whole-file parse, with skip giving the number of its leading blocks
// already emitted. They are the same in the whole-file parse (segments end
// at top-level item boundaries, where the lexer and parser are in their
// initial state), unless it has syntax errors (pf.syntax), in which case
// the file has no blocks at all and the caller must forget those it was
// given.
func parseStream(srcs []source, segMin int, emit func(file int, pf parsedFile, skip int, whole bool)) {
	type job struct {
		file int
		seg  segment
	}
	var jobs []job
	split := make([]bool, len(srcs))
	for i, s := range srcs {
		segs := splitTopLevel(s.src, segMin)
		if segs == nil {
			segs = []segment{{s.src, hcl.InitialPos}}
		}
		split[i] = len(segs) > 1
		for _, sg := range segs {
			jobs = append(jobs, job{i, sg})
		}
	}
	results := make([]parsedFile, len(jobs))
	done := make([]chan struct{}, len(jobs))
	for i := range done {
		done[i] = make(chan struct{})
	}
	release := func() {}
	if workers := min(runtime.GOMAXPROCS(0), len(jobs)); workers > 1 {
		// A worker takes a slot before a job, so slots are held in job
		// order and the oldest job not yet consumed always has one: no
		// deadlock, and at most cap(slots) parsed segments wait.
		slots := make(chan struct{}, 2*workers)
		release = func() { <-slots }
		var next atomic.Int64
		for w := 0; w < workers; w++ {
			go func() {
				for {
					slots <- struct{}{}
					i := int(next.Add(1) - 1)
					if i >= len(jobs) {
						<-slots
						return
					}
					j := jobs[i]
					results[i] = parseOne(j.seg.src, srcs[j.file].name, j.seg.start)
					close(done[i])
				}
			}()
		}
	} else {
		for i, j := range jobs {
			results[i] = parseOne(j.seg.src, srcs[j.file].name, j.seg.start)
			close(done[i])
		}
	}
	failed := -1 // the file whose whole-file parse was emitted
	emitted := 0 // blocks emitted from the current file
	for i, j := range jobs {
		<-done[i]
		r := results[i]
		results[i] = parsedFile{}
		release()
		if i == 0 || jobs[i-1].file != j.file {
			emitted = 0
		}
		if j.file == failed {
			continue
		}
		if len(r.diags) > 0 && split[j.file] {
			// A segment of a split file failed: emit the whole file.
			failed = j.file
			s := srcs[j.file]
			emit(j.file, parseOne(s.src, s.name, hcl.InitialPos), emitted, true)
			continue
		}
		emit(j.file, r, 0, false)
		emitted += len(r.blocks)
	}
}

// parseOne parses src (starting at start) and decodes its top-level
// blocks.
func parseOne(src []byte, name string, start hcl.Pos) parsedFile {
	var body hcl.Body
	var r parsedFile
	if b, ok := fastParse(src, name, start); ok {
		body = b
	} else {
		f, hd := hclsyntax.ParseConfig(src, name, start)
		r.diags = hd
		if hd.HasErrors() || f == nil || f.Body == nil {
			r.syntax = true
			return r
		}
		body = f.Body
	}
	content, cd := body.Content(topSchema)
	r.diags = append(r.diags, cd...)
	if content != nil {
		r.blocks = content.Blocks
	}
	return r
}
