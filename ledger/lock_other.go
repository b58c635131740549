//go:build !unix

package ledger

import "os"

// lockDir opens the lock file. Without flock, nothing stops a second
// writer on this platform: run one writer per ledger.
func lockDir(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
