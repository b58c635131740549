# Broken variant of examples/ic-host: a network-facing debug agent keeps
# CAP_SYS_ADMIN.
# base: ic-host
# expect: exposed_compartments_no_capabilities: debug_agent holds CAP_SYS_ADMIN

compartment "debug_agent" {
  tier         = "network-facing"
  executables  = ["/opt/ic/bin/debug-agent"]
  capabilities = ["CAP_SYS_ADMIN"]
}
