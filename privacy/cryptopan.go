package privacy

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"net/netip"
)

// CryptoPAnKeySize is the size of a Crypto-PAn key: a 16-byte AES-128 key
// followed by a 16-byte pad.
const CryptoPAnKeySize = 32

// CryptoPAn is the prefix-preserving IP address anonymisation of Xu, Fan,
// Ammar and Moon ("Prefix-Preserving IP Address Anonymization:
// Measurement-based Security Evaluation and a New Cryptography-based
// Scheme", ICNP 2002), with AES-128 as the pseudo-random function, as in
// the authors' reference implementation (Crypto-PAn 1.0).
//
// With the key split as K (AES key) ‖ P (pad seed), the pad is
// pad = AES_K(P). For an n-bit address a (n = 32 or 128), bit i of the
// output is a_i XOR the first bit of AES_K(a_0…a_{i-1} ‖ pad_i…pad_127):
// the cipher input is the first i address bits followed by the pad's
// remaining bits. Two addresses sharing a k-bit prefix therefore map to
// addresses sharing exactly a k-bit prefix, and the mapping is a
// bijection that can be inverted with the key (Deanonymize). IPv4 costs
// 32 AES blocks, IPv6 128.
//
// This is pseudonymisation, not anonymisation: the prefix structure
// survives, which enables injection and fingerprinting attacks (Brekne et
// al., PET 2005). Use truncation where subnet structure is not needed.
// A CryptoPAn is safe for concurrent use.
type CryptoPAn struct {
	block cipher.Block
	pad   [16]byte
}

// NewCryptoPAn makes a Crypto-PAn instance from a 32-byte key.
func NewCryptoPAn(key []byte) (*CryptoPAn, error) {
	if len(key) != CryptoPAnKeySize {
		return nil, fmt.Errorf("privacy: Crypto-PAn key is %d bytes, want %d", len(key), CryptoPAnKeySize)
	}
	block, err := aes.NewCipher(key[:16])
	if err != nil {
		return nil, err
	}
	c := &CryptoPAn{block: block}
	block.Encrypt(c.pad[:], key[16:32])
	return c, nil
}

// Anonymize returns the anonymised address. IPv4 and IPv4-mapped IPv6
// addresses are anonymised as IPv4 (a mapped address stays mapped); other
// IPv6 addresses over all 128 bits. The zone is kept. An invalid Addr is
// returned unchanged.
func (c *CryptoPAn) Anonymize(a netip.Addr) netip.Addr {
	return c.transform(a, false)
}

// Deanonymize inverts Anonymize.
func (c *CryptoPAn) Deanonymize(a netip.Addr) netip.Addr {
	return c.transform(a, true)
}

func (c *CryptoPAn) transform(a netip.Addr, inverse bool) netip.Addr {
	switch {
	case !a.IsValid():
		return a
	case a.Is4():
		b := a.As4()
		var buf [16]byte
		copy(buf[:], b[:])
		buf = c.run(buf, 32, inverse)
		return netip.AddrFrom4([4]byte(buf[:4]))
	case a.Is4In6():
		zone := a.Zone()
		v4 := c.transform(a.Unmap(), inverse)
		return netip.AddrFrom16(v4.As16()).WithZone(zone)
	default:
		zone := a.Zone()
		return netip.AddrFrom16(c.run(a.As16(), 128, inverse)).WithZone(zone)
	}
}

// run anonymises (or, inverse, de-anonymises) the first nbits of in.
func (c *CryptoPAn) run(in [16]byte, nbits int, inverse bool) [16]byte {
	// x holds the cipher input: the first pos bits of the original address
	// followed by the pad's bits from pos on.
	x := c.pad
	var out, res [16]byte
	orig := in // the original address, when !inverse
	if inverse {
		orig = [16]byte{}
	}
	for pos := 0; pos < nbits; pos++ {
		byteI, bit := pos/8, byte(0x80)>>(pos%8)
		c.block.Encrypt(out[:], x[:])
		otp := out[0] >> 7
		inBit := in[byteI] & bit
		var resBit byte
		if otp != 0 {
			resBit = inBit ^ bit
		} else {
			resBit = inBit
		}
		res[byteI] |= resBit
		if inverse {
			orig[byteI] |= resBit // the de-anonymised bit is the original bit
		}
		// Next input: original bit pos replaces the pad's bit pos.
		x[byteI] = x[byteI]&^bit | orig[byteI]&bit
	}
	return res
}
