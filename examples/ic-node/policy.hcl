# Internet Computer node: the GuestOS virtual machine.
#
# Modelled on DFINITY's IC-OS (ic-os/components/guestos/selinux, the
# GuestOS Dockerfile and setup-permissions.sh), with the gaps the upstream
# policy documents closed: every component has its own compartment
# (including the crypto vault and the bitcoin adapter), sandboxes hold no
# capabilities and no network, and the invariants below are enforced.

policy {
  name        = "ic-node"
  description = "Internet Computer node (GuestOS VM): orchestrator, replica, sandboxes, crypto vault, adapters, upgrades and operator roles"
}

label "rootfs" {
  description = "part of the read-only, dm-verity protected root filesystem image"
}

label "boot" {
  description = "boot chain and A/B upgrade slots: boot loader, kernel, initrd, boot arguments, root images"
}

label "credential" {
  description = "per-service TLS or SSH credentials; not the node's signing keys (those are secret)"
}
