# Root filesystem (dm-verity protected, read-only).

resource "system_files" {
  description = "operating system files of the root image"
  kind        = "directory"
  paths       = ["/usr/**", "/etc/**", "/opt/**", "/lib/**", "/lib64/**"]
  labels      = ["rootfs", "integrity-critical"]
}

resource "system_executables" {
  kind   = "directory"
  paths  = ["/usr/bin/**", "/usr/sbin/**", "/usr/local/bin/**", "/usr/libexec/**"]
  labels = ["rootfs", "integrity-critical", "executable"]
}

resource "ic_binaries" {
  description = "IC programs: orchestrator, replica, sandboxes, adapters, scripts"
  kind        = "directory"
  paths       = ["/opt/ic/bin/**"]
  labels      = ["rootfs", "integrity-critical", "executable"]
}

# Boot chain and A/B upgrade slots (partitions.csv: esp, grub, config,
# A_boot, A_root, A_var, B_boot, B_root, B_var, store).

resource "boot_loader_partitions" {
  description = "EFI system partition and GRUB partition"
  kind        = "block-device"
  paths       = ["/dev/vda1", "/dev/vda2"]
  labels      = ["boot", "integrity-critical"]
}

resource "guestos_slots" {
  description = "A_boot, A_root, B_boot, B_root"
  kind        = "block-device"
  paths       = ["/dev/vda4", "/dev/vda5", "/dev/vda7", "/dev/vda8"]
  labels      = ["boot", "integrity-critical"]
  owner       = "upgrade_manager"
}

resource "var_partitions" {
  description = "per-slot encrypted var (A_var, B_var), wiped on upgrade"
  kind        = "block-device"
  paths       = ["/dev/vda6", "/dev/vda9"]
  labels      = ["integrity-critical"]
  owner       = "upgrade_manager"
}

resource "grub_files" {
  description = "mounted GRUB partition: grub.cfg and the grubenv boot_cycle state machine"
  kind        = "directory"
  paths       = ["/grub/**"]
  labels      = ["boot", "integrity-critical"]
  owner       = "upgrade_manager"
}

resource "boot_files" {
  description = "mounted boot partition of the running slot: kernel, initrd, boot_args with the verity root hash"
  kind        = "directory"
  paths       = ["/boot/**"]
  labels      = ["boot", "integrity-critical"]
  owner       = "upgrade_manager"
}

resource "config_partition" {
  description = "config partition, persists across upgrades: SSH host keys, machine-id"
  kind        = "directory"
  paths       = ["/boot/config/**"]
  labels      = ["credential", "integrity-critical"]
}

resource "node_exporter_tls" {
  kind   = "directory"
  paths  = ["/boot/config/node_exporter/**"]
  labels = ["credential", "integrity-critical"]
  owner  = "node_exporter"
}

resource "authorized_keys" {
  description = "registry-governed SSH keys of the readonly and backup accounts"
  kind        = "directory"
  paths       = ["/boot/config/accounts_ssh_authorized_keys/**"]
  labels      = ["credential", "integrity-critical"]
  owner       = "ssh_key_provisioner"
}

# Encrypted store (LUKS + LVM): /var/lib/ic/{data,crypto,backup}.

resource "node_keys" {
  description = "the node's signing keys (secret key store of ic-crypto-csp)"
  kind        = "directory"
  paths       = ["/var/lib/ic/crypto/**"]
  labels      = ["secret"]
  owner       = "crypto_vault"
}

resource "ic_data" {
  description = "everything else under the data store"
  kind        = "directory"
  paths       = ["/var/lib/ic/data/**"]
  owner       = "orchestrator"
}

resource "ic_state" {
  description = "replicated state: canister heaps, stable memory, checkpoints"
  kind        = "directory"
  paths       = ["/var/lib/ic/data/ic_state/**"]
  labels      = ["personal-data"]
  owner       = "replica"
}

resource "canister_memory" {
  description = "page deltas the replica shares with canister sandboxes"
  kind        = "directory"
  paths       = ["/var/lib/ic/data/ic_state/page_deltas/**"]
  labels      = ["personal-data"]
  owner       = "replica"
}

resource "wasm_cache" {
  description = "compiled canister modules (machine code)"
  kind        = "directory"
  paths       = ["/var/lib/ic/data/wasm_cache/**"]
  labels      = ["executable"]
  owner       = "replica"
}

resource "consensus_pool" {
  kind   = "directory"
  paths  = ["/var/lib/ic/data/ic_consensus_pool/**"]
  owner  = "replica"
}

resource "backups" {
  description = "consensus pool backups, fetched by the backup role"
  kind        = "directory"
  paths       = ["/var/lib/ic/backup/**"]
  owner       = "replica"
}

resource "orchestrator_data" {
  kind  = "directory"
  paths = ["/var/lib/ic/data/orchestrator/**", "/var/lib/ic/data/cups/**"]
  owner = "orchestrator"
}

resource "registry_store" {
  description = "local copy of the NNS registry"
  kind        = "directory"
  paths       = ["/var/lib/ic/data/ic_registry_local_store/**"]
  labels      = ["integrity-critical"]
  owner       = "orchestrator"
}

resource "upgrade_images" {
  description = "downloaded upgrade images (hash checked against the registry)"
  kind        = "directory"
  paths       = ["/var/lib/ic/data/images/**"]
  labels      = ["integrity-critical"]
  owner       = "orchestrator"
}

resource "btc_data" {
  kind  = "directory"
  paths = ["/var/lib/ic/data/ic_btc_adapter/**"]
  owner = "bitcoin_adapter"
}

# Runtime files.

resource "ic_config" {
  description = "ic.json5 generated at boot"
  kind        = "directory"
  paths       = ["/run/ic-node/config/**"]
  labels      = ["integrity-critical"]
}

resource "nftables_ruleset" {
  description = "firewall ruleset generated from the registry"
  kind        = "directory"
  paths       = ["/run/ic-node/nftables-ruleset/**"]
  labels      = ["integrity-critical"]
  owner       = "orchestrator"
}

resource "journal" {
  kind   = "directory"
  paths  = ["/var/log/journal/**", "/run/log/journal/**"]
  labels = ["personal-data"]
}

# Devices.

resource "sev_guest" {
  description = "SEV-SNP guest device: attestation reports and sealing keys"
  kind        = "char-device"
  paths       = ["/dev/sev-guest"]
  labels      = ["integrity-critical"]
}

resource "vsock_device" {
  description = "virtio socket to the HostOS (upgrade and HSM requests)"
  kind        = "char-device"
  paths       = ["/dev/vsock"]
}
