// Package brokenpolicy reads the headers of the broken policy variants in
// policy/testdata/broken: overlays that, loaded on top of an example, must
// make exactly the listed invariants fail. The policy, analysis and
// SELinux tests all check them.
package brokenpolicy

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// Header reads the "# base: EXAMPLE" line and the "# expect: INVARIANT:
// COUNTEREXAMPLE" lines of a broken variant. A variant without a base is an
// error; the expectations may be empty.
func Header(file string) (base string, expect []string, err error) {
	f, err := os.Open(file)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "# base: "):
			base = strings.TrimPrefix(line, "# base: ")
		case strings.HasPrefix(line, "# expect: "):
			expect = append(expect, strings.TrimPrefix(line, "# expect: "))
		}
	}
	if err := sc.Err(); err != nil {
		return "", nil, fmt.Errorf("%s: %w", file, err)
	}
	if base == "" {
		return "", nil, fmt.Errorf("%s: no # base: header", file)
	}
	return base, expect, nil
}
