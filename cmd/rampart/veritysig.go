package main

import (
	"crypto/ed25519"
	"crypto/x509"
	"flag"
	"fmt"
	"os"

	"github.com/rampart-sec/rampart/verity/rootsig"
)

// sigFlags select a root-hash signature to check during verify.
type sigFlags struct {
	signature string
	certs     string
	publicKey string
}

func (s *sigFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.signature, "root-hash-signature", "", "signature file over the root hash: PKCS#7 DER (with --root-hash-cert) or Ed25519 (with --public-key)")
	fs.StringVar(&s.certs, "root-hash-cert", "", "PEM file of trusted X.509 certificates for a PKCS#7 signature")
	fs.StringVar(&s.publicKey, "public-key", "", "PEM Ed25519 public key for an Ed25519 signature")
}

// sigCheck is the outcome of a signature check.
type sigCheck struct {
	Type   string `json:"type"`
	OK     bool   `json:"ok"`
	Signer string `json:"signer,omitempty"`
	Error  string `json:"error,omitempty"`
}

// check verifies the signature over the root hash's hex string. A bad
// signature is a result; unreadable files are errors.
func (s *sigFlags) check(rootHex string) (*sigCheck, error) {
	sig, err := os.ReadFile(s.signature)
	if err != nil {
		return nil, err
	}
	switch {
	case s.certs != "" && s.publicKey != "":
		return nil, usagef("give --root-hash-cert (PKCS#7) or --public-key (Ed25519), not both")
	case s.certs != "":
		certs, err := rootsig.LoadCertificates(s.certs)
		if err != nil {
			return nil, err
		}
		signer, err := rootsig.VerifyPKCS7(sig, []byte(rootHex), certs)
		if err != nil {
			return &sigCheck{Type: "pkcs7", Error: err.Error()}, nil
		}
		return &sigCheck{Type: "pkcs7", OK: true, Signer: signerName(signer)}, nil
	case s.publicKey != "":
		pub, err := rootsig.LoadEd25519PublicKey(s.publicKey)
		if err != nil {
			return nil, err
		}
		if err := rootsig.VerifyEd25519(sig, []byte(rootHex), pub); err != nil {
			return &sigCheck{Type: "ed25519", Error: err.Error()}, nil
		}
		return &sigCheck{Type: "ed25519", OK: true, Signer: s.publicKey}, nil
	}
	return nil, usagef("--root-hash-signature needs --root-hash-cert or --public-key")
}

func signerName(c *x509.Certificate) string {
	return fmt.Sprintf("%s, serial %s", c.Subject, c.SerialNumber)
}

func veritySign(fs *flag.FlagSet) func(*ctx, []string) error {
	keyPath := fs.String("key", "", "PEM private key (RSA, ECDSA or Ed25519)")
	certPath := fs.String("cert", "", "PEM X.509 certificate of the key (PKCS#7 signatures)")
	kind := fs.String("type", "", "signature type: pkcs7 (kernel root_hash_sig_key_desc) or ed25519 (default: pkcs7 with --cert, else ed25519)")
	embed := fs.Bool("embed-cert", false, "embed the certificate in the PKCS#7 signature")
	out := fs.String("out", "", "signature file to write (required)")
	rootFile := fs.String("root-hash-file", "", "file holding the root hash in hex")
	return func(c *ctx, args []string) error {
		if err := wantArgs(args, 0, 1, "[ROOTHASH]"); err != nil {
			return err
		}
		if *keyPath == "" || *out == "" {
			return usagef("--key and --out are required")
		}
		root, err := rootHash(append([]string{"", ""}, args...), *rootFile)
		if err != nil {
			return err
		}
		// The kernel checks the signature over the table's lower-case hex.
		content := rootsig.RootHashContent(root)
		key, err := rootsig.LoadPrivateKey(*keyPath)
		if err != nil {
			return err
		}
		t := *kind
		if t == "" {
			t = "ed25519"
			if *certPath != "" {
				t = "pkcs7"
			}
		}
		var sig []byte
		switch t {
		case "pkcs7":
			if *certPath == "" {
				return usagef("--type pkcs7 needs --cert")
			}
			certs, err := rootsig.LoadCertificates(*certPath)
			if err != nil {
				return err
			}
			sig, err = rootsig.SignPKCS7(content, certs[0], key, &rootsig.SignOptions{EmbedCertificate: *embed})
			if err != nil {
				return err
			}
		case "ed25519":
			edKey, ok := key.(ed25519.PrivateKey)
			if !ok {
				return fmt.Errorf("%s: not an Ed25519 key (use --type pkcs7 with --cert for RSA or ECDSA)", *keyPath)
			}
			sig = rootsig.SignEd25519(content, edKey)
		default:
			return usagef("--type %q: want pkcs7 or ed25519", t)
		}
		if err := os.WriteFile(*out, sig, 0o644); err != nil {
			return err
		}
		if c.json {
			return c.writeJSON(map[string]any{"type": t, "root_hash": string(content), "signature": *out, "bytes": len(sig)})
		}
		fmt.Fprintf(c.stdout, "Wrote %s signature over root hash %s to %s (%d bytes)\n", t, content, *out, len(sig))
		return nil
	}
}
