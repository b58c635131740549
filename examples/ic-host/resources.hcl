resource "system_files" {
  kind   = "directory"
  paths  = ["/usr/**", "/etc/**", "/opt/**", "/lib/**", "/lib64/**"]
  labels = ["rootfs", "integrity-critical"]
}

resource "system_executables" {
  kind   = "directory"
  paths  = ["/usr/bin/**", "/usr/sbin/**", "/usr/local/bin/**", "/usr/libexec/**"]
  labels = ["rootfs", "integrity-critical", "executable"]
}

resource "ic_binaries" {
  kind   = "directory"
  paths  = ["/opt/ic/bin/**"]
  labels = ["rootfs", "integrity-critical", "executable"]
}

resource "hostos_slots" {
  description = "LVM volumes of the HostOS A/B sets"
  kind        = "block-device"
  paths       = ["/dev/hostlvm/A_boot", "/dev/hostlvm/A_root", "/dev/hostlvm/B_boot", "/dev/hostlvm/B_root"]
  labels      = ["boot", "integrity-critical"]
  owner       = "host_upgrade_manager"
}

resource "host_grub" {
  kind   = "directory"
  paths  = ["/grub/**"]
  labels = ["boot", "integrity-critical"]
  owner  = "host_upgrade_manager"
}

resource "boot_files" {
  kind   = "directory"
  paths  = ["/boot/**"]
  labels = ["boot", "integrity-critical"]
  owner  = "host_upgrade_manager"
}

resource "host_config" {
  description = "config partition: config.json and node operator keys from SetupOS"
  kind        = "directory"
  paths       = ["/boot/config/**"]
  labels      = ["credential", "integrity-critical"]
}

resource "metrics_tls" {
  kind   = "directory"
  paths  = ["/boot/config/metrics_proxy/**"]
  labels = ["credential", "integrity-critical"]
  owner  = "metrics_proxy"
}

resource "metrics_proxy_config" {
  kind  = "file"
  paths = ["/etc/metrics-proxy.yaml"]
  labels = ["rootfs", "integrity-critical"]
}

resource "upgrade_staging" {
  kind   = "directory"
  paths  = ["/var/lib/hostos/upgrade/**"]
  labels = ["integrity-critical"]
  owner  = "host_upgrade_manager"
}

resource "guest_disk" {
  description = "the GuestOS disk (its A/B slots, config and encrypted store)"
  kind        = "block-device"
  paths       = ["/dev/hostlvm/guestos"]
  labels      = ["personal-data", "integrity-critical"]
  owner       = "guest_vm"
}

resource "guest_boot_cache" {
  description = "kernel, initrd and command line extracted for direct boot"
  kind        = "directory"
  paths       = ["/run/guest_vm_runner/**"]
  labels      = ["integrity-critical"]
  owner       = "guest_vm_runner"
}

resource "guest_serial_log" {
  kind   = "directory"
  paths  = ["/var/log/libvirt/qemu/**"]
  owner  = "guest_vm_runner"
}

resource "host_journal" {
  kind  = "directory"
  paths = ["/var/log/journal/**", "/run/log/journal/**"]
}

resource "kvm_device" {
  kind  = "char-device"
  paths = ["/dev/kvm"]
}

resource "sev_device" {
  kind   = "char-device"
  paths  = ["/dev/sev"]
  labels = ["integrity-critical"]
}

resource "vhost_devices" {
  kind  = "char-device"
  paths = ["/dev/vhost-net", "/dev/vhost-vsock", "/dev/net/tun"]
}
