//go:build !cgo

package stage

// The launcher is C (launch.c), built with cgo: without it, rampart
// would start sandboxes with nothing to set them up. Build with
// CGO_ENABLED=1 and a C compiler (Debian: gcc, libc6-dev).
var _ = the_sandbox_launcher_needs_cgo_build_with_CGO_ENABLED_1
