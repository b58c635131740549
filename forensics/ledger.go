package forensics

import (
	"errors"
	"fmt"
	"os"

	"github.com/rampart-sec/rampart/ledger"
)

// verifyLedger checks a ledger before it is read. It returns the input's
// description, and a warning when the ledger is read without having been
// verified (Unverified); without Unverified, a ledger that cannot be
// verified is an error wrapping ErrUnverified.
func verifyLedger(l LedgerSource) (Input, string, error) {
	in := Input{Kind: "ledger", Path: l.Dir}
	f := false
	in.Verified = &f
	refuse := func(why string) (Input, string, error) {
		in.Problem = why
		if !l.Unverified {
			return in, "", fmt.Errorf("%s: %s: %w", l.Dir, why, ErrUnverified)
		}
		return in, fmt.Sprintf("UNVERIFIED LEDGER %s: %s. Its entries may have been altered: every finding below rests on them.", l.Dir, why), nil
	}
	if _, err := os.Stat(l.Dir); err != nil {
		return in, "", err
	}
	if len(l.Keys) == 0 {
		return refuse("no verifier key given (--key), so its checkpoints could not be checked")
	}
	known, err := ledger.LoadVerifiers(l.Keys...)
	if err != nil {
		return in, "", err
	}
	var ext []ledger.External
	for _, c := range l.Checkpoints {
		b, err := os.ReadFile(c)
		if err != nil {
			return in, "", err
		}
		ext = append(ext, ledger.External{Name: c, Note: b})
	}
	rep, err := ledger.Verify(l.Dir, known, ext)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return in, "", err
		}
		return refuse("verification failed: " + err.Error())
	}
	if !rep.OK {
		why := "verification failed"
		if p := rep.First(); p != nil {
			why += ": " + p.String()
		}
		return refuse(why)
	}
	t := true
	in.Verified = &t
	in.Entries = rep.Entries
	return in, "", nil
}
