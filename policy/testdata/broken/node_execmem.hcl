# Broken variant of examples/ic-node: the canister sandbox gets executable
# anonymous memory (upstream commit 095f321 did this).
# base: ic-node
# expect: only_compiler_has_execmem: canister_sandbox map-exec canister_sandbox

allow "canister_sandbox" {
  verbs = ["map-exec"]
  on    = ["canister_sandbox"]
}
