package rootsig

import (
	"crypto"
	"encoding/asn1"
	"errors"
	"fmt"
)

// Object identifiers used by PKCS#7 SignedData over a dm-verity root hash.
var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSigningTime   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}
	oidSMIMECaps     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 15}
	oidMSStatement   = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 11}
	oidMSOpusInfo    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 1, 12}

	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA224 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 4}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSAEncryption   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSASSAPSS       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidSHA1WithRSA     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 5}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidSHA384WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidSHA512WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECDSAWithSHA1   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 1}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSAWithSHA384 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSAWithSHA512 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519         = asn1.ObjectIdentifier{1, 3, 101, 112}
)

var oidNames = []struct {
	oid  asn1.ObjectIdentifier
	name string
}{
	{oidData, "id-data"},
	{oidSignedData, "id-signedData"},
	{oidContentType, "contentType"},
	{oidMessageDigest, "messageDigest"},
	{oidSigningTime, "signingTime"},
	{oidSMIMECaps, "smimeCapabilities"},
	{oidMSStatement, "msStatementType"},
	{oidMSOpusInfo, "msSpOpusInfo"},
	{oidSHA1, "sha1"},
	{oidSHA224, "sha224"},
	{oidSHA256, "sha256"},
	{oidSHA384, "sha384"},
	{oidSHA512, "sha512"},
	{oidRSAEncryption, "rsaEncryption"},
	{oidRSASSAPSS, "RSASSA-PSS"},
	{oidSHA1WithRSA, "sha1WithRSAEncryption"},
	{oidSHA256WithRSA, "sha256WithRSAEncryption"},
	{oidSHA384WithRSA, "sha384WithRSAEncryption"},
	{oidSHA512WithRSA, "sha512WithRSAEncryption"},
	{oidECDSAWithSHA1, "ecdsa-with-SHA1"},
	{oidECDSAWithSHA256, "ecdsa-with-SHA256"},
	{oidECDSAWithSHA384, "ecdsa-with-SHA384"},
	{oidECDSAWithSHA512, "ecdsa-with-SHA512"},
	{oidEd25519, "Ed25519"},
}

// oidName returns a readable name for well-known OIDs and the dotted form
// otherwise.
func oidName(oid asn1.ObjectIdentifier) string {
	for _, n := range oidNames {
		if n.oid.Equal(oid) {
			return n.name
		}
	}
	return oid.String()
}

// hashOIDs maps the digest algorithms VerifyPKCS7 accepts.
var hashOIDs = []struct {
	oid   asn1.ObjectIdentifier
	hash  crypto.Hash
	ecdsa asn1.ObjectIdentifier
}{
	{oidSHA256, crypto.SHA256, oidECDSAWithSHA256},
	{oidSHA384, crypto.SHA384, oidECDSAWithSHA384},
	{oidSHA512, crypto.SHA512, oidECDSAWithSHA512},
}

// DER identifiers (class, tag) used while walking the structure.
const (
	classUniversal = asn1.ClassUniversal
	classContext   = asn1.ClassContextSpecific
)

// derReader walks a sequence of DER elements. It relies on encoding/asn1,
// which rejects indefinite and non-minimal lengths, so anything it accepts
// is definite-length DER at the element level.
type derReader struct {
	b []byte
}

// empty reports whether all elements have been consumed.
func (r *derReader) empty() bool { return len(r.b) == 0 }

// next returns the next element whatever its tag.
func (r *derReader) next(what string) (asn1.RawValue, error) {
	if len(r.b) == 0 {
		return asn1.RawValue{}, fmt.Errorf("%s: missing", what)
	}
	var rv asn1.RawValue
	rest, err := asn1.Unmarshal(r.b, &rv)
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("%s: %v", what, err)
	}
	r.b = rest
	return rv, nil
}

// peekIs reports whether the next element has the given class and tag.
func (r *derReader) peekIs(class, tag int) bool {
	if len(r.b) == 0 {
		return false
	}
	var rv asn1.RawValue
	if _, err := asn1.Unmarshal(r.b, &rv); err != nil {
		return false
	}
	return rv.Class == class && rv.Tag == tag
}

// expect returns the next element and checks its class, tag and form.
func (r *derReader) expect(what string, class, tag int, compound bool) (asn1.RawValue, error) {
	rv, err := r.next(what)
	if err != nil {
		return rv, err
	}
	if err := checkTag(rv, what, class, tag, compound); err != nil {
		return rv, err
	}
	return rv, nil
}

// finish reports an error if elements are left over.
func (r *derReader) finish(what string) error {
	if len(r.b) != 0 {
		return fmt.Errorf("%s: %d bytes of unexpected trailing data", what, len(r.b))
	}
	return nil
}

func checkTag(rv asn1.RawValue, what string, class, tag int, compound bool) error {
	if rv.Class != class || rv.Tag != tag || rv.IsCompound != compound {
		return fmt.Errorf("%s: unexpected %s, expected %s", what,
			describeTag(rv.Class, rv.Tag, rv.IsCompound), describeTag(class, tag, compound))
	}
	return nil
}

func describeTag(class, tag int, compound bool) string {
	if class == classUniversal {
		switch tag {
		case asn1.TagInteger:
			return "INTEGER"
		case asn1.TagOctetString:
			return "OCTET STRING"
		case asn1.TagOID:
			return "OBJECT IDENTIFIER"
		case asn1.TagSequence:
			return "SEQUENCE"
		case asn1.TagSet:
			return "SET"
		case asn1.TagNull:
			return "NULL"
		}
		return fmt.Sprintf("universal tag %d", tag)
	}
	form := "primitive"
	if compound {
		form = "constructed"
	}
	if class == classContext {
		return fmt.Sprintf("[%d] (%s)", tag, form)
	}
	return fmt.Sprintf("class %d tag %d (%s)", class, tag, form)
}

// parseOID parses one element as an OBJECT IDENTIFIER.
func parseOID(rv asn1.RawValue, what string) (asn1.ObjectIdentifier, error) {
	if err := checkTag(rv, what, classUniversal, asn1.TagOID, false); err != nil {
		return nil, err
	}
	var oid asn1.ObjectIdentifier
	if err := unmarshalExact(rv.FullBytes, &oid); err != nil {
		return nil, fmt.Errorf("%s: %v", what, err)
	}
	return oid, nil
}

// parseVersion parses one element as an INTEGER that must fit in one
// content byte, as the kernel requires for version fields.
func parseVersion(rv asn1.RawValue, what string) (int, error) {
	if err := checkTag(rv, what, classUniversal, asn1.TagInteger, false); err != nil {
		return 0, err
	}
	if len(rv.Bytes) != 1 {
		return 0, fmt.Errorf("%s: unsupported value", what)
	}
	var v int
	if err := unmarshalExact(rv.FullBytes, &v); err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	return v, nil
}

// algorithm is a parsed AlgorithmIdentifier; params is absent (nil) or the
// full DER of the parameters.
type algorithm struct {
	oid    asn1.ObjectIdentifier
	params []byte
}

// paramsAbsentOrNull reports whether the parameters are absent or NULL.
func (a algorithm) paramsAbsentOrNull() bool {
	return a.params == nil || (len(a.params) == 2 && a.params[0] == asn1.TagNull && a.params[1] == 0)
}

// parseAlgorithm parses an AlgorithmIdentifier.
func parseAlgorithm(rv asn1.RawValue, what string) (algorithm, error) {
	if err := checkTag(rv, what, classUniversal, asn1.TagSequence, true); err != nil {
		return algorithm{}, err
	}
	r := derReader{rv.Bytes}
	o, err := r.next(what + " algorithm")
	if err != nil {
		return algorithm{}, err
	}
	oid, err := parseOID(o, what+" algorithm")
	if err != nil {
		return algorithm{}, err
	}
	a := algorithm{oid: oid}
	if !r.empty() {
		p, err := r.next(what + " parameters")
		if err != nil {
			return algorithm{}, err
		}
		a.params = p.FullBytes
	}
	if err := r.finish(what); err != nil {
		return algorithm{}, err
	}
	return a, nil
}

// unmarshalExact is asn1.Unmarshal that rejects trailing bytes.
func unmarshalExact(b []byte, v any) error {
	rest, err := asn1.Unmarshal(b, v)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data")
	}
	return nil
}
