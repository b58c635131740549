# Broken variant of examples/ic-node: a canister sandbox may start a shell,
# which in turn may start the upgrade manager.
# base: ic-node
# expect: sandboxes_start_nothing: canister_sandbox spawn debug_shell
# expect: sandboxes_start_nothing: canister_sandbox spawn upgrade_manager

compartment "debug_shell" {
  tier        = "trusted"
  executables = ["/usr/bin/bash"]
}

spawn {
  from = "canister_sandbox"
  to   = ["debug_shell"]
}

spawn {
  from = "debug_shell"
  to   = ["upgrade_manager"]
}
