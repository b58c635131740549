package verity

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// DefaultSaltSize is veritysetup's salt length.
const DefaultSaltSize = 32

// FromSeed sets p's salt (DefaultSaltSize bytes) and UUID from seed, so
// that the same image and seed give the same tree on every build machine:
// salt = HMAC-SHA256(seed, "verity-salt"), as systemd-repart derives it,
// and UUID = the first 16 bytes of HMAC-SHA256(seed, "verity-uuid") with
// the RFC 4122 version 4 and variant bits set.
func (p *Params) FromSeed(seed []byte) error {
	if len(seed) == 0 {
		return fmt.Errorf("empty seed")
	}
	p.Salt = hmacSHA256(seed, "verity-salt")[:DefaultSaltSize]
	copy(p.UUID[:], hmacSHA256(seed, "verity-uuid"))
	setUUIDBits(&p.UUID)
	return nil
}

// Randomize sets a random salt of DefaultSaltSize bytes and a random
// version 4 UUID, as veritysetup does by default.
func (p *Params) Randomize() error {
	p.Salt = make([]byte, DefaultSaltSize)
	if _, err := rand.Read(p.Salt); err != nil {
		return err
	}
	return p.RandomUUID()
}

// RandomUUID sets a random version 4 UUID.
func (p *Params) RandomUUID() error {
	if _, err := rand.Read(p.UUID[:]); err != nil {
		return err
	}
	setUUIDBits(&p.UUID)
	return nil
}

func setUUIDBits(u *[16]byte) {
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}
