package stage

// The launcher itself is C (launch.h, launch.c, record.c, cache.c): its
// constructor runs before the Go runtime of every binary that links this
// package. The functions below expose its parsers and its cache key to
// the tests.

/*
#cgo CFLAGS: -O2 -Wall -Wextra -std=gnu11
#include <stdlib.h>
#include "launch.h"
*/
import "C"

import (
	"errors"
	"unsafe"
)

// checkRecord parses b with the launcher's record parser and returns a
// canonical dump of the result (one line per field), or the parser's
// error.
func checkRecord(b []byte) (string, error) {
	return check(b, false)
}

// checkEntry is checkRecord for launch cache entries.
func checkEntry(b []byte) (string, error) {
	return check(b, true)
}

func check(b []byte, entry bool) (string, error) {
	// A C copy of exactly len(b) bytes: the parser must not read past it.
	p := C.CBytes(b)
	defer C.free(p)
	var ok C.int
	var out *C.char
	if entry {
		out = C.rp_check_entry(p, C.size_t(len(b)), &ok)
	} else {
		out = C.rp_check_record(p, C.size_t(len(b)), &ok)
	}
	if out == nil {
		return "", errors.New("out of memory")
	}
	defer C.free(unsafe.Pointer(out))
	s := C.GoString(out)
	if ok == 0 {
		return "", errors.New(s)
	}
	return s, nil
}

// cStrings returns C copies of ss (which must not contain NUL bytes) and
// a function that frees them.
func cStrings(ss []string) ([]*C.char, func()) {
	cs := make([]*C.char, len(ss)+1)
	for i, s := range ss {
		cs[i] = C.CString(s)
	}
	return cs, func() {
		for _, c := range cs {
			C.free(unsafe.Pointer(c))
		}
	}
}

// cacheKey is CacheKey, computed by the launcher.
func cacheKey(args, env []string, cwd string) string {
	a, freeA := cStrings(args)
	defer freeA()
	e, freeE := cStrings(env)
	defer freeE()
	c := C.CString(cwd)
	defer C.free(unsafe.Pointer(c))
	var out [17]C.char
	C.rp_cache_key(&a[0], C.size_t(len(args)), &e[0], C.size_t(len(env)), c, &out[0])
	return C.GoString(&out[0])
}

// cacheDir is CacheDir, computed by the launcher ("" when the cache is
// off, or the name does not fit in PATH_MAX).
func cacheDir(euid int, env []string) string {
	e, freeE := cStrings(env)
	defer freeE()
	var out [4096]C.char
	if C.rp_cache_dir(C.uint(euid), &e[0], &out[0], C.size_t(len(out))) < 0 {
		return ""
	}
	return C.GoString(&out[0])
}

// forwarded is the launcher's list of relayed signals (Forwarded in Go).
func forwarded() []int {
	var n C.size_t
	p := C.rp_forwarded(&n)
	out := make([]int, n)
	for i, s := range unsafe.Slice(p, n) {
		out[i] = int(s)
	}
	return out
}
