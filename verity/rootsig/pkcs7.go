package rootsig

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// Errors that callers may want to tell apart with errors.Is. The returned
// errors wrap these with details (which signer, which attribute, which
// certificate).
var (
	// ErrNotSignedData: the input is not a DER PKCS#7 ContentInfo holding
	// a SignedData (for example PEM, S/MIME, garbage, or another content
	// type).
	ErrNotSignedData = errors.New("not a PKCS#7 SignedData")

	// ErrAttachedContent: the SignedData carries its content. The kernel
	// supplies the root hash itself as detached data and rejects a
	// message that already has content (pkcs7_supply_detached_data
	// returns -EINVAL), so VerifyPKCS7 rejects it too, even when the
	// attached bytes equal the root hash.
	ErrAttachedContent = errors.New("content is attached, expected detached")

	// ErrSignatureMismatch: the signature (or the messageDigest signed
	// attribute) does not verify over the given root hash with the
	// trusted signer's key. Either the root hash, the signature, or the
	// key differs from what was signed.
	ErrSignatureMismatch = errors.New("signature does not match root hash")

	// ErrUntrustedSigner: no SignerInfo names a certificate from the trust
	// list, neither by issuer and serial number nor by
	// subjectKeyIdentifier.
	ErrUntrustedSigner = errors.New("signed by certificate not in trust list")

	// ErrKeyMismatch: the private key does not belong to the certificate.
	ErrKeyMismatch = errors.New("certificate does not match private key")
)

// SignOptions adjusts SignPKCS7. The zero value (and a nil pointer) gives
// the output of "openssl smime -sign -nocerts -noattr -binary
// -outform der": SHA-256, no certificate, no signed attributes.
type SignOptions struct {
	// EmbedCertificate includes the signer certificate in the SignedData
	// (like openssl smime without -nocerts). The kernel does not need it:
	// the signer is looked up in the trusted keyring by issuer and serial
	// number either way.
	EmbedCertificate bool

	// Hash is the digest algorithm: 0 means crypto.SHA256; crypto.SHA384
	// and crypto.SHA512 are also allowed.
	Hash crypto.Hash
}

// RootHashContent returns the bytes that are signed for a root hash: its
// lowercase hexadecimal form, as cryptsetup writes it into the dm-verity
// table, without a newline.
func RootHashContent(rootHash []byte) []byte {
	return []byte(hex.EncodeToString(rootHash))
}

// checkRootHashHex rejects content that cannot be a root hash in a
// dm-verity table, catching the common mistake of signing a file that ends
// in a newline.
func checkRootHashHex(content []byte) error {
	if len(content) == 0 {
		return errors.New("content is empty, expected the root hash as lowercase hex")
	}
	for i, c := range content {
		if ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') {
			continue
		}
		hint := ""
		switch {
		case c == '\n' || c == '\r':
			hint = " (a trailing newline? the kernel checks the hex string without one)"
		case 'A' <= c && c <= 'F':
			hint = " (uppercase; cryptsetup writes lowercase hex into the table)"
		}
		return fmt.Errorf("content is not a lowercase hex root hash: byte %q at offset %d%s", c, i, hint)
	}
	if len(content)%2 != 0 {
		return fmt.Errorf("content is not a lowercase hex root hash: odd length %d", len(content))
	}
	return nil
}

// SignPKCS7 returns a detached DER PKCS#7 SignedData over content, which
// must be the root hash as lowercase hex without a newline (see
// RootHashContent; other content is rejected because the kernel would
// never accept a signature over it).
//
// The signature is made by key for cert, with SHA-256 unless opts.Hash
// says otherwise, and has no signed attributes. RSA keys sign with
// PKCS#1 v1.5 and the SignerInfo names the algorithm rsaEncryption, ECDSA
// keys with ecdsa-with-SHA*, exactly as OpenSSL does; for RSA the output
// is byte-for-byte that of "openssl smime -sign -nocerts -noattr -binary
// -outform der" (without -nocerts when opts.EmbedCertificate is set).
// Ed25519 keys are refused: the kernel's PKCS#7 code does not accept them
// (use SignEd25519). cert must have been parsed (its Raw fields are used)
// and must match key (ErrKeyMismatch otherwise). The signature is checked
// against cert before it is returned.
func SignPKCS7(content []byte, cert *x509.Certificate, key crypto.Signer, opts *SignOptions) ([]byte, error) {
	if cert == nil || len(cert.Raw) == 0 || len(cert.RawIssuer) == 0 || cert.SerialNumber == nil {
		return nil, errors.New("signer certificate missing or not parsed from DER")
	}
	if key == nil {
		return nil, errors.New("no private key")
	}
	if err := checkRootHashHex(content); err != nil {
		return nil, err
	}
	h := crypto.SHA256
	embed := false
	if opts != nil {
		if opts.Hash != 0 {
			h = opts.Hash
		}
		embed = opts.EmbedCertificate
	}
	var hashOID, ecdsaOID asn1.ObjectIdentifier
	for _, e := range hashOIDs {
		if e.hash == h {
			hashOID, ecdsaOID = e.oid, e.ecdsa
		}
	}
	if hashOID == nil {
		return nil, fmt.Errorf("unsupported hash %v (use SHA-256, SHA-384 or SHA-512)", h)
	}
	if !publicKeysEqual(cert.PublicKey, key.Public()) {
		return nil, ErrKeyMismatch
	}
	var kind sigKind
	var sigAlg pkix.AlgorithmIdentifier
	switch cert.PublicKey.(type) {
	case *rsa.PublicKey:
		kind = sigRSA
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption, Parameters: asn1.NullRawValue}
	case *ecdsa.PublicKey:
		kind = sigECDSA
		sigAlg = pkix.AlgorithmIdentifier{Algorithm: ecdsaOID}
	case ed25519.PublicKey:
		return nil, errors.New("the kernel does not accept PKCS#7 signatures by Ed25519 keys; use an RSA or ECDSA key, or SignEd25519")
	default:
		return nil, fmt.Errorf("unsupported certificate key type %T", cert.PublicKey)
	}

	digest := hashOf(h, content)
	signature, err := key.Sign(rand.Reader, digest, h)
	if err != nil {
		return nil, fmt.Errorf("signing root hash: %w", err)
	}
	if err := verifyDigest(cert.PublicKey, kind, h, digest, signature); err != nil {
		return nil, fmt.Errorf("signer produced a signature that does not verify: %w", err)
	}

	digestAlg := pkix.AlgorithmIdentifier{Algorithm: hashOID, Parameters: asn1.NullRawValue}
	sd := signedDataASN1{
		Version:          1,
		DigestAlgorithms: []pkix.AlgorithmIdentifier{digestAlg},
		ContentInfo:      detachedContentInfoASN1{ContentType: oidData},
		SignerInfos: []signerInfoASN1{{
			Version: 1,
			SID: issuerAndSerialASN1{
				Issuer:       asn1.RawValue{FullBytes: cert.RawIssuer},
				SerialNumber: cert.SerialNumber,
			},
			DigestAlgorithm:    digestAlg,
			SignatureAlgorithm: sigAlg,
			Signature:          signature,
		}},
	}
	if embed {
		sd.Certificates = asn1.RawValue{Class: classContext, Tag: 0, IsCompound: true, Bytes: cert.Raw}
	}
	inner, err := asn1.Marshal(sd)
	if err != nil {
		return nil, fmt.Errorf("encoding SignedData: %w", err)
	}
	out, err := asn1.Marshal(contentInfoASN1{
		ContentType: oidSignedData,
		Content:     asn1.RawValue{Class: classContext, Tag: 0, IsCompound: true, Bytes: inner},
	})
	if err != nil {
		return nil, fmt.Errorf("encoding ContentInfo: %w", err)
	}
	return out, nil
}

// ASN.1 shapes used for encoding only; decoding walks the DER by hand so
// that every deviation gets a precise error.
type contentInfoASN1 struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue // [0] EXPLICIT, built by hand
}

type detachedContentInfoASN1 struct {
	ContentType asn1.ObjectIdentifier
}

type issuerAndSerialASN1 struct {
	Issuer       asn1.RawValue
	SerialNumber *big.Int
}

type signerInfoASN1 struct {
	Version            int
	SID                issuerAndSerialASN1
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
}

type signedDataASN1 struct {
	Version          int
	DigestAlgorithms []pkix.AlgorithmIdentifier `asn1:"set"`
	ContentInfo      detachedContentInfoASN1
	Certificates     asn1.RawValue    `asn1:"optional"` // [0] IMPLICIT, built by hand
	SignerInfos      []signerInfoASN1 `asn1:"set"`
}

type sigKind int

const (
	sigRSA sigKind = iota + 1
	sigECDSA
)

func hashOf(h crypto.Hash, data []byte) []byte {
	d := h.New()
	d.Write(data)
	return d.Sum(nil)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && b != nil && ae.Equal(b)
}

// verifyDigest checks a raw signature over digest.
func verifyDigest(pub crypto.PublicKey, kind sigKind, h crypto.Hash, digest, sig []byte) error {
	switch kind {
	case sigRSA:
		pk, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("certificate key is %s but the signature algorithm is RSA", keyTypeName(pub))
		}
		if err := rsa.VerifyPKCS1v15(pk, h, digest, sig); err != nil {
			if errors.Is(err, rsa.ErrVerification) {
				return ErrSignatureMismatch
			}
			return fmt.Errorf("RSA verification: %w", err)
		}
		return nil
	case sigECDSA:
		pk, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("certificate key is %s but the signature algorithm is ECDSA", keyTypeName(pub))
		}
		if !ecdsa.VerifyASN1(pk, digest, sig) {
			return ErrSignatureMismatch
		}
		return nil
	}
	return errors.New("unknown signature algorithm")
}

func keyTypeName(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA"
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}

// VerifyPKCS7 checks a detached DER PKCS#7 SignedData sig over content
// (the root hash as it appears in the dm-verity table) against the
// trusted certificates, and returns the trusted certificate that signed
// it. trusted plays the role of the kernel keyring: certificates embedded
// in sig are never trusted by themselves (they are checked only for
// shape, not parsed), and certificate chains are not followed; a signer
// must be in trusted itself. Validity periods of the
// trusted certificates are not checked against the clock (the kernel does
// not either), only against a signingTime attribute.
//
// It applies the kernel's checks for VERIFYING_UNSPECIFIED_SIGNATURE:
//   - DER ContentInfo of type id-signedData, SignedData version 1 or 3,
//     SignerInfo version 1 with issuerAndSerialNumber (SignedData v1) or
//     version 3 with subjectKeyIdentifier (SignedData v3);
//   - encapsulated content type id-data and no content (ErrAttachedContent);
//   - digest sha256, sha384 or sha512; signature algorithm rsaEncryption
//     (RSA PKCS#1 v1.5) or ecdsa-with-SHA256/384/512 matching the digest.
//     sha256WithRSAEncryption and friends are rejected because the kernel
//     rejects them in a SignerInfo;
//   - signed attributes, if present, must be present on every SignerInfo
//     and include exactly one contentType (id-data) and one messageDigest
//     (which must match content); a signingTime must lie within the
//     signer certificate's validity; smimeCapabilities and the
//     Authenticode attributes are rejected, as the kernel does for id-data
//     (so "openssl cms -sign" needs -nosmimecap or -noattr). Other
//     attributes are ignored.
//
// Signers are matched with trusted certificates by issuer and serial
// number, or by subjectKeyIdentifier. When there are several SignerInfos,
// every signer found in trusted must verify and at least one must be
// found; signers not in trusted are ignored (as the kernel needs only one
// trusted signer). Errors wrap ErrNotSignedData, ErrAttachedContent,
// ErrSignatureMismatch or ErrUntrustedSigner where those apply, or
// describe the malformed or unsupported part.
func VerifyPKCS7(sig, content []byte, trusted []*x509.Certificate) (*x509.Certificate, error) {
	sd, err := parsePKCS7(sig)
	if err != nil {
		return nil, err
	}
	if sd.attached {
		if sd.attachedData != nil && bytes.Equal(sd.attachedData, content) {
			return nil, fmt.Errorf("%w (the attached content equals the root hash, but the kernel rejects attached content)", ErrAttachedContent)
		}
		return nil, ErrAttachedContent
	}
	var signer *x509.Certificate
	var untrusted *signerInfo
	for _, si := range sd.signers {
		suffix := ""
		if len(sd.signers) > 1 {
			suffix = fmt.Sprintf(" (SignerInfo %d)", si.index)
		}
		digest := hashOf(si.hash, content)
		if si.signedAttrs != nil && !bytes.Equal(si.messageDigest, digest) {
			return nil, fmt.Errorf("%w: messageDigest attribute differs%s", ErrSignatureMismatch, suffix)
		}
		var verr error
		var found *x509.Certificate
		for _, c := range trusted {
			if c == nil || !si.names(c) {
				continue
			}
			if err := si.verifyWith(c, digest); err != nil {
				if verr == nil {
					verr = err
				}
				continue
			}
			found = c
			break
		}
		if found == nil {
			if verr != nil {
				if suffix != "" {
					return nil, fmt.Errorf("%w%s", verr, suffix)
				}
				return nil, verr
			}
			if untrusted == nil {
				untrusted = si
			}
			continue
		}
		if signer == nil {
			signer = found
		}
	}
	if signer == nil {
		return nil, untrusted.untrustedError()
	}
	return signer, nil
}

// signedData is the part of a parsed SignedData that verification needs.
type signedData struct {
	attached     bool
	attachedData []byte // the OCTET STRING content, if that is its form
	signers      []*signerInfo
}

// signerInfo is a parsed SignerInfo.
type signerInfo struct {
	index          int      // 1-based position, for messages
	issuer         []byte   // DER Name (issuerAndSerialNumber)
	serial         *big.Int // (issuerAndSerialNumber)
	skid           []byte   // subjectKeyIdentifier (version 3)
	hash           crypto.Hash
	kind           sigKind
	signedAttrs    []byte // DER of the signed attributes retagged as SET, nil if absent
	messageDigest  []byte
	hasSigningTime bool
	signingTime    time.Time
	signature      []byte
}

// names reports whether si identifies c.
func (si *signerInfo) names(c *x509.Certificate) bool {
	if si.skid != nil {
		return len(c.SubjectKeyId) > 0 && bytes.Equal(c.SubjectKeyId, si.skid)
	}
	return c.SerialNumber != nil && bytes.Equal(c.RawIssuer, si.issuer) && c.SerialNumber.Cmp(si.serial) == 0
}

// verifyWith checks si against certificate c; digest is the digest of the
// content under si.hash and has already been compared with messageDigest.
func (si *signerInfo) verifyWith(c *x509.Certificate, digest []byte) error {
	if si.hasSigningTime && (si.signingTime.Before(c.NotBefore) || si.signingTime.After(c.NotAfter)) {
		return fmt.Errorf("signingTime %s is outside the validity of certificate %s (%s to %s)",
			si.signingTime.UTC().Format(time.RFC3339), c.Subject,
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	}
	signed := digest
	if si.signedAttrs != nil {
		signed = hashOf(si.hash, si.signedAttrs)
	}
	return verifyDigest(c.PublicKey, si.kind, si.hash, signed, si.signature)
}

func (si *signerInfo) untrustedError() error {
	if si.skid != nil {
		return fmt.Errorf("%w (subjectKeyIdentifier %s)", ErrUntrustedSigner, colonHex(si.skid))
	}
	return fmt.Errorf("%w (issuer %s, serial %s)", ErrUntrustedSigner, nameString(si.issuer), serialString(si.serial))
}

func colonHex(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02X", c)
	}
	return sb.String()
}

// nameString renders a DER Name like crypto/x509 does ("CN=...,O=...").
func nameString(der []byte) string {
	var rdn pkix.RDNSequence
	if err := unmarshalExact(der, &rdn); err != nil {
		return "0x" + hex.EncodeToString(der)
	}
	var n pkix.Name
	n.FillFromRDNSequence(&rdn)
	if s := n.String(); s != "" {
		return s
	}
	return "(empty)"
}

// serialString renders a serial number in hex, as "openssl x509 -serial"
// prints it.
func serialString(n *big.Int) string {
	if n == nil {
		return "(none)"
	}
	sign := ""
	if n.Sign() < 0 {
		sign = "-"
	}
	s := strings.ToUpper(new(big.Int).Abs(n).Text(16))
	if len(s)%2 != 0 {
		s = "0" + s
	}
	return sign + s
}

// rejected builds the error for a SignedData that is malformed or uses
// something the kernel does not accept.
func rejected(err error) error {
	return fmt.Errorf("PKCS#7 SignedData rejected: %w", err)
}

// parsePKCS7 decodes a DER ContentInfo holding a SignedData.
func parsePKCS7(der []byte) (*signedData, error) {
	if bytes.HasPrefix(bytes.TrimLeft(der, " \t\r\n"), []byte("-----BEGIN")) {
		return nil, fmt.Errorf("%w: input is PEM, expected DER (convert with openssl pkcs7 -outform DER)", ErrNotSignedData)
	}
	for _, h := range []string{"MIME-Version:", "Content-Type:"} {
		if len(der) >= len(h) && strings.EqualFold(string(der[:len(h)]), h) {
			return nil, fmt.Errorf("%w: input is S/MIME, expected DER (sign with -outform der)", ErrNotSignedData)
		}
	}
	if len(der) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrNotSignedData)
	}
	var ci asn1.RawValue
	rest, err := asn1.Unmarshal(der, &ci)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotSignedData, err)
	}
	if err := checkTag(ci, "ContentInfo", classUniversal, asn1.TagSequence, true); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotSignedData, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d bytes of trailing data after the ContentInfo", ErrNotSignedData, len(rest))
	}
	r := derReader{ci.Bytes}
	o, err := r.next("ContentInfo contentType")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotSignedData, err)
	}
	oid, err := parseOID(o, "ContentInfo contentType")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotSignedData, err)
	}
	if !oid.Equal(oidSignedData) {
		return nil, fmt.Errorf("%w: content type is %s", ErrNotSignedData, oidName(oid))
	}
	wrapper, err := r.expect("ContentInfo content", classContext, 0, true)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotSignedData, err)
	}
	if err := r.finish("ContentInfo"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotSignedData, err)
	}
	wr := derReader{wrapper.Bytes}
	body, err := wr.expect("SignedData", classUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotSignedData, err)
	}
	if err := wr.finish("ContentInfo content"); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotSignedData, err)
	}
	sd, err := parseSignedData(body.Bytes)
	if err != nil {
		return nil, rejected(err)
	}
	return sd, nil
}

// parseSignedData decodes the fields of a SignedData SEQUENCE.
func parseSignedData(b []byte) (*signedData, error) {
	r := derReader{b}
	v, err := r.next("SignedData version")
	if err != nil {
		return nil, err
	}
	version, err := parseVersion(v, "SignedData version")
	if err != nil {
		return nil, err
	}
	if version != 1 && version != 3 {
		return nil, fmt.Errorf("unsupported SignedData version %d", version)
	}

	das, err := r.expect("SignedData digestAlgorithms", classUniversal, asn1.TagSet, true)
	if err != nil {
		return nil, err
	}
	for dr := (derReader{das.Bytes}); !dr.empty(); {
		a, err := dr.next("SignedData digestAlgorithms")
		if err != nil {
			return nil, err
		}
		if _, err := parseAlgorithm(a, "SignedData digestAlgorithm"); err != nil {
			return nil, err
		}
	}

	sd := &signedData{}
	eci, err := r.expect("encapsulated ContentInfo", classUniversal, asn1.TagSequence, true)
	if err != nil {
		return nil, err
	}
	er := derReader{eci.Bytes}
	o, err := er.next("encapsulated content type")
	if err != nil {
		return nil, err
	}
	ct, err := parseOID(o, "encapsulated content type")
	if err != nil {
		return nil, err
	}
	if !ct.Equal(oidData) {
		return nil, fmt.Errorf("content type is %s, expected id-data (%s)", oidName(ct), oidData)
	}
	if !er.empty() {
		c, err := er.expect("encapsulated content", classContext, 0, true)
		if err != nil {
			return nil, err
		}
		if err := er.finish("encapsulated ContentInfo"); err != nil {
			return nil, err
		}
		sd.attached = true
		var data []byte
		if unmarshalExact(c.Bytes, &data) == nil {
			sd.attachedData = data
		}
	}

	if r.peekIs(classContext, 0) {
		certs, err := r.expect("SignedData certificates", classContext, 0, true)
		if err != nil {
			return nil, err
		}
		for cr := (derReader{certs.Bytes}); !cr.empty(); {
			if _, err := cr.expect("SignedData certificate", classUniversal, asn1.TagSequence, true); err != nil {
				return nil, err
			}
		}
	}
	if r.peekIs(classContext, 1) {
		if _, err := r.expect("SignedData crls", classContext, 1, true); err != nil {
			return nil, err
		}
	}

	sis, err := r.expect("SignedData signerInfos", classUniversal, asn1.TagSet, true)
	if err != nil {
		return nil, err
	}
	if err := r.finish("SignedData"); err != nil {
		return nil, err
	}
	for sr := (derReader{sis.Bytes}); !sr.empty(); {
		rv, err := sr.next("SignerInfo")
		if err != nil {
			return nil, err
		}
		si, err := parseSignerInfo(rv, len(sd.signers)+1, version)
		if err != nil {
			return nil, err
		}
		sd.signers = append(sd.signers, si)
	}
	if len(sd.signers) == 0 {
		return nil, errors.New("no SignerInfo")
	}
	for _, si := range sd.signers[1:] {
		if (si.signedAttrs != nil) != (sd.signers[0].signedAttrs != nil) {
			return nil, errors.New("SignerInfos inconsistently use signed attributes")
		}
	}
	return sd, nil
}

// parseSignerInfo decodes one SignerInfo; index is its 1-based position.
func parseSignerInfo(rv asn1.RawValue, index, sdVersion int) (*signerInfo, error) {
	what := fmt.Sprintf("SignerInfo %d", index)
	if err := checkTag(rv, what, classUniversal, asn1.TagSequence, true); err != nil {
		return nil, err
	}
	si := &signerInfo{index: index}
	r := derReader{rv.Bytes}

	v, err := r.next(what + " version")
	if err != nil {
		return nil, err
	}
	version, err := parseVersion(v, what+" version")
	if err != nil {
		return nil, err
	}
	switch {
	case version == 1 && sdVersion == 1, version == 3 && sdVersion == 3:
	case version == 1 || version == 3:
		return nil, fmt.Errorf("%s: version %d in a version %d SignedData", what, version, sdVersion)
	default:
		return nil, fmt.Errorf("%s: unsupported version %d", what, version)
	}

	sid, err := r.next(what + " sid")
	if err != nil {
		return nil, err
	}
	switch {
	case sid.Class == classUniversal && sid.Tag == asn1.TagSequence && sid.IsCompound:
		if version != 1 {
			return nil, fmt.Errorf("%s: issuerAndSerialNumber in a version %d SignerInfo", what, version)
		}
		ir := derReader{sid.Bytes}
		name, err := ir.expect(what+" issuer", classUniversal, asn1.TagSequence, true)
		if err != nil {
			return nil, err
		}
		sn, err := ir.expect(what+" serialNumber", classUniversal, asn1.TagInteger, false)
		if err != nil {
			return nil, err
		}
		if err := ir.finish(what + " issuerAndSerialNumber"); err != nil {
			return nil, err
		}
		var serial *big.Int
		if err := unmarshalExact(sn.FullBytes, &serial); err != nil {
			return nil, fmt.Errorf("%s serialNumber: %v", what, err)
		}
		si.issuer, si.serial = name.FullBytes, serial
	case sid.Class == classContext && sid.Tag == 0 && !sid.IsCompound:
		if version != 3 {
			return nil, fmt.Errorf("%s: subjectKeyIdentifier in a version %d SignerInfo", what, version)
		}
		if len(sid.Bytes) == 0 {
			return nil, fmt.Errorf("%s: empty subjectKeyIdentifier", what)
		}
		si.skid = sid.Bytes
	default:
		return nil, fmt.Errorf("%s sid: unexpected %s, expected issuerAndSerialNumber or [0] subjectKeyIdentifier",
			what, describeTag(sid.Class, sid.Tag, sid.IsCompound))
	}

	da, err := r.next(what + " digestAlgorithm")
	if err != nil {
		return nil, err
	}
	dalg, err := parseAlgorithm(da, what+" digestAlgorithm")
	if err != nil {
		return nil, err
	}
	var ecdsaOID asn1.ObjectIdentifier
	for _, e := range hashOIDs {
		if e.oid.Equal(dalg.oid) {
			si.hash, ecdsaOID = e.hash, e.ecdsa
		}
	}
	if si.hash == 0 {
		return nil, fmt.Errorf("%s: unsupported digest algorithm %s (expected sha256, sha384 or sha512)", what, oidName(dalg.oid))
	}
	if !dalg.paramsAbsentOrNull() {
		return nil, fmt.Errorf("%s: digest algorithm %s has unexpected parameters", what, oidName(dalg.oid))
	}

	if r.peekIs(classContext, 0) {
		attrs, err := r.expect(what+" signedAttrs", classContext, 0, true)
		if err != nil {
			return nil, err
		}
		if err := si.parseSignedAttrs(attrs, what); err != nil {
			return nil, err
		}
	}

	sa, err := r.next(what + " signatureAlgorithm")
	if err != nil {
		return nil, err
	}
	salg, err := parseAlgorithm(sa, what+" signatureAlgorithm")
	if err != nil {
		return nil, err
	}
	switch {
	case salg.oid.Equal(oidRSAEncryption):
		si.kind = sigRSA
	case salg.oid.Equal(oidECDSAWithSHA256), salg.oid.Equal(oidECDSAWithSHA384), salg.oid.Equal(oidECDSAWithSHA512):
		if !salg.oid.Equal(ecdsaOID) {
			return nil, fmt.Errorf("%s: signature algorithm %s does not match digest algorithm %s",
				what, oidName(salg.oid), oidName(dalg.oid))
		}
		si.kind = sigECDSA
	case salg.oid.Equal(oidSHA1WithRSA), salg.oid.Equal(oidSHA256WithRSA),
		salg.oid.Equal(oidSHA384WithRSA), salg.oid.Equal(oidSHA512WithRSA):
		return nil, fmt.Errorf("%s: signature algorithm %s is rejected by the Linux kernel, which expects rsaEncryption in a SignerInfo",
			what, oidName(salg.oid))
	default:
		return nil, fmt.Errorf("%s: unsupported signature algorithm %s (expected rsaEncryption or ecdsa-with-SHA256/384/512)",
			what, oidName(salg.oid))
	}
	if !salg.paramsAbsentOrNull() {
		return nil, fmt.Errorf("%s: signature algorithm %s has unexpected parameters", what, oidName(salg.oid))
	}

	s, err := r.expect(what+" signature", classUniversal, asn1.TagOctetString, false)
	if err != nil {
		return nil, err
	}
	if len(s.Bytes) == 0 {
		return nil, fmt.Errorf("%s: empty signature", what)
	}
	si.signature = s.Bytes

	if r.peekIs(classContext, 1) {
		if _, err := r.expect(what+" unsignedAttrs", classContext, 1, true); err != nil {
			return nil, err
		}
	}
	if err := r.finish(what); err != nil {
		return nil, err
	}
	return si, nil
}

// parseSignedAttrs decodes the [0] IMPLICIT SET OF Attribute of a
// SignerInfo, with the kernel's rules (pkcs7_sig_note_authenticated_attr).
func (si *signerInfo) parseSignedAttrs(rv asn1.RawValue, what string) error {
	// The signature covers the attributes encoded as a SET: same bytes,
	// universal SET tag instead of [0]. The tag is a single byte because
	// encoding/asn1 rejects non-minimal tag encodings.
	set := append([]byte(nil), rv.FullBytes...)
	set[0] = 0x31
	si.signedAttrs = set

	var haveContentType, haveDigest bool
	for r := (derReader{rv.Bytes}); !r.empty(); {
		a, err := r.expect(what+" signed attribute", classUniversal, asn1.TagSequence, true)
		if err != nil {
			return err
		}
		ar := derReader{a.Bytes}
		o, err := ar.next(what + " signed attribute type")
		if err != nil {
			return err
		}
		oid, err := parseOID(o, what+" signed attribute type")
		if err != nil {
			return err
		}
		name := oidName(oid)
		vals, err := ar.expect(what+" signed attribute "+name+" values", classUniversal, asn1.TagSet, true)
		if err != nil {
			return err
		}
		if err := ar.finish(what + " signed attribute " + name); err != nil {
			return err
		}
		var values []asn1.RawValue
		for vr := (derReader{vals.Bytes}); !vr.empty(); {
			val, err := vr.next(what + " signed attribute " + name + " value")
			if err != nil {
				return err
			}
			values = append(values, val)
		}

		single := func(seen *bool) error {
			if *seen {
				return fmt.Errorf("%s: signed attribute %s repeated", what, name)
			}
			*seen = true
			if len(values) != 1 {
				return fmt.Errorf("%s: signed attribute %s has %d values, expected 1", what, name, len(values))
			}
			return nil
		}
		switch {
		case oid.Equal(oidContentType):
			if err := single(&haveContentType); err != nil {
				return err
			}
			ct, err := parseOID(values[0], what+" signed attribute contentType")
			if err != nil {
				return err
			}
			if !ct.Equal(oidData) {
				return fmt.Errorf("%s: signed contentType attribute is %s, expected id-data", what, oidName(ct))
			}
		case oid.Equal(oidMessageDigest):
			if err := single(&haveDigest); err != nil {
				return err
			}
			if err := checkTag(values[0], what+" signed attribute messageDigest", classUniversal, asn1.TagOctetString, false); err != nil {
				return err
			}
			si.messageDigest = values[0].Bytes
		case oid.Equal(oidSigningTime):
			if err := single(&si.hasSigningTime); err != nil {
				return err
			}
			val := values[0]
			if val.Class != classUniversal || val.IsCompound || (val.Tag != asn1.TagUTCTime && val.Tag != asn1.TagGeneralizedTime) {
				return fmt.Errorf("%s: signed attribute signingTime: unexpected %s, expected UTCTime or GeneralizedTime",
					what, describeTag(val.Class, val.Tag, val.IsCompound))
			}
			if err := unmarshalExact(val.FullBytes, &si.signingTime); err != nil {
				return fmt.Errorf("%s: signed attribute signingTime: %v", what, err)
			}
		case oid.Equal(oidSMIMECaps):
			return fmt.Errorf("%s: signed attribute smimeCapabilities is rejected by the Linux kernel for id-data content (sign with -noattr or -nosmimecap)", what)
		case oid.Equal(oidMSOpusInfo), oid.Equal(oidMSStatement):
			return fmt.Errorf("%s: Authenticode signed attribute %s is rejected by the Linux kernel for id-data content", what, name)
		}
	}
	switch {
	case !haveContentType:
		return fmt.Errorf("%s: signed attributes lack contentType", what)
	case !haveDigest:
		return fmt.Errorf("%s: signed attributes lack messageDigest", what)
	}
	return nil
}
