deny_access "guest_no_host_boot_chain" {
  description = "The guest VM cannot modify the host's boot chain, executables or root filesystem."
  subjects    = ["guest_vm"]
  verbs       = ["write", "append", "create", "delete", "setattr"]
  objects     = [labelled("boot"), executables(), labelled("rootfs")]
}

deny_access "guest_no_network" {
  description = "The QEMU process itself opens no network channel (guest networking goes through tap devices)."
  subjects    = ["guest_vm"]
  verbs       = ["connect", "bind", "listen"]
  objects     = network()
}

deny_spawn "guest_starts_nothing" {
  from       = ["guest_vm"]
  to         = compartments()
  transitive = false
}

no_flow "guest_reaches_host_slots_only_via_vsock_agent" {
  description    = "Anything the guest says reaches the host's A/B slots only through the vsock agent's allow-list."
  from           = "guest_vm"
  to             = ["hostos_slots", "host_grub"]
  except_through = ["vsock_agent"]
}

deny_access "only_upgrade_manager_writes_boot" {
  subjects = all_except(["host_upgrade_manager"])
  verbs    = ["write", "append", "create", "delete", "setattr"]
  objects  = labelled("boot")
}

deny_access "network_facing_no_executable_write" {
  subjects = tier("network-facing")
  verbs    = ["write", "append", "create", "delete", "setattr"]
  objects  = [executables(), labelled("rootfs")]
}

deny_capability "exposed_compartments_no_capabilities" {
  subjects = tier("untrusted", "network-facing")
}

deny_access "readonly_no_credentials" {
  subjects = ["readonly", "backup"]
  verbs    = ["read"]
  objects  = labelled("credential")
}
