# Broken variant of examples/ic-node: the canister sandbox may read the key store.
# base: ic-node
# expect: sandboxes_no_key_store: canister_sandbox read node_keys
# expect: only_vault_reads_keys: canister_sandbox read node_keys
# expect: keys_leave_only_through_vault: node_keys -> canister_sandbox -> canister_memory -> replica -> p2p

allow "canister_sandbox" {
  verbs = ["read"]
  on    = ["node_keys"]
}
