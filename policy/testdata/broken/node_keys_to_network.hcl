# Broken variant of examples/ic-node: the replica reads the key store directly,
# so keys can reach the network (p2p, metrics) without passing the vault.
# base: ic-node
# expect: only_vault_reads_keys: replica read node_keys
# expect: keys_leave_only_through_vault: node_keys -> replica -> p2p

allow "replica" {
  verbs = ["read"]
  on    = ["node_keys"]
}
