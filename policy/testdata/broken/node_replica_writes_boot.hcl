# Broken variant of examples/ic-node: the replica may write the A/B slots.
# base: ic-node
# expect: only_upgrade_manager_writes_boot: replica write guestos_slots
# expect: only_upgrade_manager_writes_boot: replica append guestos_slots

allow "replica" {
  verbs = ["write"]
  on    = ["guestos_slots"]
}
