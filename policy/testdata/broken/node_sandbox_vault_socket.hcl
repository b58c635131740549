# Broken variant of examples/ic-node: the compiler sandbox may call the crypto
# vault over a second socket served by the vault. The base invariant
# sandboxes_no_key_store names only the crypto_csp channel, so it misses
# this; the overlay's own invariant catches it, and the flow from node_keys
# through crypto_vault to a sandbox is there for analysis to find.
# base: ic-node

channel "vault_debug" {
  protocol = "unix"
  path     = "/run/ic-node/crypto-csp/debug.sock"
  server   = "crypto_vault"
  clients  = ["compiler_sandbox"]
}

deny_access "sandboxes_no_vault_debug" {
  description = "Present only to show that invariants may be added by overlays; it is violated too."
  subjects    = tier("untrusted")
  verbs       = ["connect"]
  objects     = "vault_debug"
}
# expect: sandboxes_no_vault_debug: compiler_sandbox connect vault_debug
