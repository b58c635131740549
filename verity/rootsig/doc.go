// Package rootsig creates and checks signatures over a dm-verity root hash.
//
// The signed message is always the root hash exactly as it appears in the
// dm-verity table: lowercase hexadecimal, no newline (cryptsetup formats
// it this way, and the kernel passes that table string to
// verify_pkcs7_signature). [RootHashContent] turns a raw digest into that
// form.
//
// Two signature formats are supported:
//
//   - PKCS#7 (RFC 2315 / RFC 5652 subset): a DER SignedData with detached
//     content, which the kernel checks when the table carries
//     root_hash_sig_key_desc (veritysetup --root-hash-signature).
//     [SignPKCS7] produces the same bytes as
//     "openssl smime -sign -nocerts -noattr -binary -outform der" for RSA
//     keys (ECDSA signatures are randomized); [VerifyPKCS7] applies the
//     checks of the kernel's PKCS#7 parser and verifier
//     (crypto/asymmetric_keys/pkcs7_parser.c, pkcs7_verify.c) against an
//     explicit list of trusted certificates, which plays the role of the
//     kernel keyring.
//   - Ed25519: a raw 64-byte signature over the same hex string, for systems
//     that check the root hash in userspace without a kernel keyring
//     ([SignEd25519], [VerifyEd25519]); interoperable with
//     "openssl pkeyutl -sign -rawin".
//
// Keys and certificates are read from PEM files with [LoadCertificates],
// [LoadPrivateKey], [LoadKeyPair] and [LoadEd25519PublicKey].
package rootsig
