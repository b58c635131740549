package rootsig

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
)

// pemBlocks decodes every PEM block in data, ignoring text around them.
func pemBlocks(data []byte) []*pem.Block {
	var blocks []*pem.Block
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return blocks
		}
		blocks = append(blocks, b)
	}
}

func blockTypes(blocks []*pem.Block) string {
	types := make([]string, len(blocks))
	for i, b := range blocks {
		types[i] = b.Type
	}
	return strings.Join(types, ", ")
}

// LoadCertificates reads every CERTIFICATE PEM block in the file at path,
// in order, ignoring other blocks and text. A file with no PEM block at
// all is parsed as one or more concatenated DER certificates (the form the
// kernel keyring takes). Errors start with path, e.g.
// "cert.pem: no CERTIFICATE PEM block (found PRIVATE KEY)" or
// "cert.pem: certificate 2: x509: ...".
func LoadCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blocks := pemBlocks(data)
	if len(blocks) == 0 {
		certs, derr := x509.ParseCertificates(data)
		if derr != nil || len(certs) == 0 {
			return nil, fmt.Errorf("%s: no PEM block, and not a DER certificate", path)
		}
		return certs, nil
	}
	var certs []*x509.Certificate
	for _, b := range blocks {
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: certificate %d: %v", path, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: no CERTIFICATE PEM block (found %s)", path, blockTypes(blocks))
	}
	return certs, nil
}

// LoadPrivateKey reads the private key in the PEM file at path: PKCS#8
// ("PRIVATE KEY": RSA, ECDSA or Ed25519), PKCS#1 ("RSA PRIVATE KEY") or
// SEC1 ("EC PRIVATE KEY", optionally preceded by "EC PARAMETERS" as
// "openssl ecparam -genkey" writes). Other blocks, such as certificates,
// are ignored; exactly one private key must be present. The result is an
// *rsa.PrivateKey, *ecdsa.PrivateKey or ed25519.PrivateKey. Encrypted keys
// are not supported. Errors start with path, e.g. "key.pem: no PEM block".
func LoadPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blocks := pemBlocks(data)
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var key crypto.Signer
	for _, b := range blocks {
		var k any
		var err error
		switch b.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(b.Bytes)
		case "RSA PRIVATE KEY", "EC PRIVATE KEY":
			if strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED") {
				return nil, fmt.Errorf("%s: encrypted private key not supported (decrypt it with openssl pkey)", path)
			}
			if b.Type == "RSA PRIVATE KEY" {
				k, err = x509.ParsePKCS1PrivateKey(b.Bytes)
			} else {
				k, err = x509.ParseECPrivateKey(b.Bytes)
			}
		case "ENCRYPTED PRIVATE KEY":
			return nil, fmt.Errorf("%s: encrypted private key not supported (decrypt it with openssl pkey)", path)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %v", path, b.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s: %T cannot sign", path, k)
		}
		if key != nil {
			return nil, fmt.Errorf("%s: more than one private key", path)
		}
		key = s
	}
	if key == nil {
		return nil, fmt.Errorf("%s: no private key PEM block (found %s)", path, blockTypes(blocks))
	}
	return key, nil
}

// LoadKeyPair loads the private key at keyPath and the certificates at
// certPath and returns the first certificate whose public key matches the
// private key, for SignPKCS7. If none matches, the error wraps
// ErrKeyMismatch and reads "cert.pem: certificate does not match private
// key in key.pem".
func LoadKeyPair(certPath, keyPath string) (*x509.Certificate, crypto.Signer, error) {
	key, err := LoadPrivateKey(keyPath)
	if err != nil {
		return nil, nil, err
	}
	certs, err := LoadCertificates(certPath)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range certs {
		if publicKeysEqual(c.PublicKey, key.Public()) {
			return c, key, nil
		}
	}
	if len(certs) > 1 {
		return nil, nil, fmt.Errorf("%s: %w in %s (none of its %d certificates)", certPath, ErrKeyMismatch, keyPath, len(certs))
	}
	return nil, nil, fmt.Errorf("%s: %w in %s", certPath, ErrKeyMismatch, keyPath)
}

// LoadEd25519PublicKey reads an Ed25519 public key from the PEM file at
// path: a PKIX "PUBLIC KEY" block (as "openssl pkey -pubout" writes) or,
// failing that, a CERTIFICATE whose key is Ed25519. Errors start with
// path, e.g. "pub.pem: public key is RSA, expected Ed25519".
func LoadEd25519PublicKey(path string) (ed25519.PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	blocks := pemBlocks(data)
	if len(blocks) == 0 {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	var pub crypto.PublicKey
	for _, b := range blocks {
		pub, err = PublicKeyFromPEM(b)
		if errors.Is(err, ErrPrivateKey) {
			return nil, fmt.Errorf("%s: contains a private key, expected a public key (extract it with openssl pkey -pubout)", path)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		if pub != nil {
			break
		}
	}
	if pub == nil {
		return nil, fmt.Errorf("%s: no PUBLIC KEY PEM block (found %s)", path, blockTypes(blocks))
	}
	k, ok := pub.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%s: public key is %s, expected Ed25519", path, keyTypeName(pub))
	}
	return k, nil
}

// ErrPrivateKey is PublicKeyFromPEM's error for a private key block.
var ErrPrivateKey = errors.New("a private key, not a public key")

// PublicKeyFromPEM returns the public key a PEM block holds: a PKIX
// "PUBLIC KEY", or a "CERTIFICATE"'s subject key. Other blocks hold no
// public key (nil, nil), except private keys, which are ErrPrivateKey:
// a file meant to be public must not carry one.
func PublicKeyFromPEM(b *pem.Block) (crypto.PublicKey, error) {
	switch b.Type {
	case "PUBLIC KEY":
		pub, err := x509.ParsePKIXPublicKey(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Type, err)
		}
		return pub, nil
	case "CERTIFICATE":
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", b.Type, err)
		}
		return c.PublicKey, nil
	case "PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY":
		return nil, ErrPrivateKey
	}
	return nil, nil
}
