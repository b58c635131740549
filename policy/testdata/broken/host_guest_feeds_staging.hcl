# Broken variant of examples/ic-host: the upgrade staging directory is
# shared with QEMU (say, as a 9p folder), so the guest can plant an image
# the host upgrade manager installs. No access invariant covers the
# staging area (it is not boot, rootfs or executable); only the flow
# invariant catches it (package analysis).
# base: ic-host
# expect: guest_reaches_host_slots_only_via_vsock_agent: guest_vm -> upgrade_staging -> host_upgrade_manager -> hostos_slots

allow "guest_vm" {
  verbs = ["read", "write", "create"]
  on    = ["upgrade_staging"]
}
