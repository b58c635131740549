# Broken variant of examples/ic-host: QEMU may write the HostOS A/B slots.
# base: ic-host
# expect: guest_no_host_boot_chain: guest_vm write hostos_slots
# expect: guest_no_host_boot_chain: guest_vm append hostos_slots
# expect: only_upgrade_manager_writes_boot: guest_vm write hostos_slots
# expect: only_upgrade_manager_writes_boot: guest_vm append hostos_slots
# expect: guest_reaches_host_slots_only_via_vsock_agent: guest_vm -> hostos_slots

allow "guest_vm" {
  verbs = ["write"]
  on    = ["hostos_slots"]
}
