// Package privacy filters events before anything is written, and checks
// afterwards that nothing raw was.
//
// A Filter is a compiled Config applied to an Event (a type and ordered
// name/value fields with optional Hints), producing a new Event:
//
//   - a fail-closed field allowlist per event type: fields no rule names
//     are dropped, types without rules are dropped, and every drop is
//     counted per reason (Stats); a "*" wildcard type needs an explicit
//     opt-in (Config.AllowWildcard);
//   - identifiers (uids, gids, user, group and host names, principals)
//     are replaced by pseudonyms "ps:<key id>:<kind>:<mac>", where mac is
//     HMAC-SHA256(K, kind ‖ 0x00 ‖ value) truncated to 128 bits in base32,
//     under the current key of a Keyring that can be rotated;
//   - IP addresses are anonymised prefix-preservingly with Crypto-PAn
//     ("pan:<key id>:<address>", CryptoPAn, for IPv4 and IPv6) or
//     truncated ("trunc:<network>/<bits>"); audit's hex sockaddrs are
//     decoded and their address anonymised;
//   - arguments, process titles and paths are redacted: built-in rules
//     for key material, credentials in arguments and URLs, e-mail
//     addresses and long hex or base64 secrets, plus regexps from the
//     policy, each match becoming "[redacted:<rule>]"; user names and
//     uids inside paths (/home/<user>, /root, /run/user/<uid>…) become
//     pseudonyms;
//   - timestamps can be coarsened to N seconds.
//
// The configuration is a Go struct (Config) with an HCL decoder
// (DecodeHCL) for the policy's privacy { … } block; DefaultConfig holds
// the allowlists for Linux audit records.
//
// Lint scans a ledger (JSON lines or text) for values that look raw —
// IP addresses, e-mail addresses, home directories, key material, any
// value from a given list, identifier fields that are not pseudonyms —
// so that privacy can be checked, not only promised. Revealer
// re-identifies pseudonyms (from an encrypted escrow, or by testing
// candidate values) and Crypto-PAn addresses, only with the key that made
// them.
//
// Keys live in a keyring file (mode 0600, see LoadKeyring), apart from
// the ledger; the escrow, when used, is a separate file encrypted under
// the same keys. The model and its limits are described in docs/agent.md
// ("Privacy").
package privacy
