package sandbox

import (
	"strings"

	"github.com/rampart-sec/rampart/policy"
)

// capNumber returns the number of a capability in canonical form
// ("CAP_NET_ADMIN"). policy.Capabilities lists them in the kernel's
// order (include/uapi/linux/capability.h), so the index is the number.
func capNumber(name string) (int, bool) {
	for i, c := range policy.Capabilities() {
		if string(c) == strings.ToUpper(name) {
			return i, true
		}
	}
	return 0, false
}
