# Broken variant of examples/ic-host: the guest talks to the host upgrade
# manager directly over vsock, bypassing the vsock agent's allow-list. Only
# the flow invariant catches it (package analysis).
# base: ic-host
# expect: guest_reaches_host_slots_only_via_vsock_agent: guest_vm -> direct_upgrade -> host_upgrade_manager -> hostos_slots

channel "direct_upgrade" {
  protocol = "vsock"
  ports    = [19091]
  server   = "host_upgrade_manager"
  clients  = ["guest_vm"]
}
