package sandbox

import (
	"fmt"
	"strings"

	"github.com/opencontainers/selinux/go-selinux"
)

// DefaultSELinuxLabel returns the exec context of a compartment on a node
// that runs the policy's SELinux translation: the compartment's domain
// type is its name with "_t", in role system_r, user system_u, level s0.
func DefaultSELinuxLabel(compartment string) string {
	return "system_u:system_r:" + compartment + "_t:s0"
}

// checkSELinuxLabel checks that label is a user:role:type[:level]
// context.
func checkSELinuxLabel(label string) error {
	if strings.Count(label, ":") < 2 {
		return fmt.Errorf("want user:role:type[:level]")
	}
	ctx, err := selinux.NewContext(label)
	if err != nil {
		return err
	}
	for _, part := range []string{ctx["user"], ctx["role"], ctx["type"]} {
		if part == "" {
			return fmt.Errorf("want user:role:type[:level]")
		}
	}
	return nil
}
