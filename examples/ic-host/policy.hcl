# Internet Computer node: the HostOS (bare-metal hypervisor).
#
# HostOS runs the GuestOS VM (libvirt/QEMU, SEV-SNP direct kernel boot via
# guest_vm_runner), upgrades itself on the GuestOS's request over vsock,
# exports privacy-filtered metrics and offers a limited operator console.
# It is "intentionally limited by design to not perform any trusted
# capabilities"; the invariants keep the (untrusted, from the host's view)
# guest away from the host's boot chain except through the vsock agent.

policy {
  name        = "ic-host"
  description = "Internet Computer node (HostOS): guest VM runner, host upgrade manager, metrics proxy, operator console"
}

label "rootfs" {
  description = "part of the read-only root filesystem image"
}

label "boot" {
  description = "HostOS boot chain and A/B upgrade slots"
}

label "credential" {
  description = "node operator SSH keys and service TLS keys"
}
