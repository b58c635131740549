# Broken variant of examples/ic-node: readonly operators may read key material.
# base: ic-node
# expect: operators_no_key_material: readonly read node_keys
# expect: only_vault_reads_keys: readonly read node_keys

allow "readonly" {
  verbs = ["read"]
  on    = ["node_keys"]
}
