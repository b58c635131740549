compartment "guest_vm_runner" {
  description = "guest_vm_runner: reads the guest's grubenv, extracts kernel, initrd and command line from the chosen slot and starts QEMU (direct kernel boot, measured by SEV-SNP). The guest's tap device is created at boot by systemd-networkd (a .netdev with Kind=tap and User=libvirt-qemu), so the runner needs no CAP_NET_ADMIN."
  tier         = "trusted"
  unit         = "guestos.service"
  executables  = ["/opt/ic/bin/guest_vm_runner"]
  user         = "root"
  group        = "root"
  capabilities = ["CAP_SYS_ADMIN"]
  syscalls     = ["@system-service", "@mount"]

  allow {
    verbs = ["read"]
    on    = ["guest_disk", "host_config", "ic_binaries"]
  }
  allow {
    verbs = ["read", "write", "create", "delete"]
    on    = ["guest_boot_cache", "guest_serial_log"]
  }
  allow {
    verbs = ["signal"]
    on    = ["guest_vm"]
  }
}

compartment "guest_vm" {
  description = "QEMU running the GuestOS. From the host's point of view the guest is untrusted: it may be compromised."
  tier        = "untrusted"
  unit        = "guestos-vm.service"
  executables = ["/usr/bin/qemu-system-x86_64"]
  user        = "libvirt-qemu"
  group       = "kvm"
  syscalls    = ["@system-service", "@memlock"]

  limits {
    core = 0
  }

  allow {
    verbs = ["read", "write", "ioctl"]
    on    = ["guest_disk", "kvm_device", "sev_device", "vhost_devices"]
  }
  allow {
    verbs = ["read"]
    on    = ["guest_boot_cache"]
  }
  allow {
    verbs = ["append"]
    on    = ["guest_serial_log"]
  }
}

compartment "vsock_agent" {
  description = "Serves the GuestOS's narrow vsock command set: attach-hsm, detach-hsm, get-hostos-version, upgrade, notify, start-upgrade-guest-vm."
  tier        = "network-facing"
  unit        = "vsock-agent.service"
  executables = ["/opt/ic/bin/vsock_host"]
  user        = "vsock"
  group       = "vsock"
  syscalls    = ["@system-service"]

  limits {
    core = 0
  }

  allow {
    verbs = ["read"]
    on    = ["host_config"]
  }
  allow {
    verbs = ["append"]
    on    = ["host_journal"]
  }
}

compartment "host_upgrade_manager" {
  description = "manageboot.sh (HostOS): hash-checks the staged upgrade and installs it into the inactive slot, flips grubenv. It parses no network input: upgrade_fetcher downloads."
  tier         = "privileged"
  unit         = "hostos-manageboot@.service"
  executables  = ["/opt/ic/bin/hostos-manageboot.sh"]
  user         = "root"
  group        = "root"
  capabilities = ["CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_DAC_OVERRIDE"]
  syscalls     = ["@system-service", "@reboot"]

  allow {
    verbs = ["read", "write"]
    on    = ["hostos_slots"]
  }
  allow {
    verbs = ["read", "write", "create", "delete"]
    on    = ["host_grub"]
  }
  allow {
    verbs = ["read", "delete"]
    on    = ["upgrade_staging"]
  }
  allow {
    verbs = ["read"]
    on    = ["boot_files"]
  }
}

compartment "metrics_proxy" {
  description = "metrics-proxy: drops everything but an allow-list, adds noise, coarsens time; chains GuestOS and HostOS metrics."
  tier        = "network-facing"
  unit        = "metrics-proxy.service"
  executables = ["/opt/ic/bin/metrics-proxy"]
  user        = "metrics-proxy"
  group       = "metrics-proxy"
  syscalls    = ["@system-service"]

  limits {
    core = 0
  }

  allow {
    verbs = ["read"]
    on    = ["metrics_proxy_config", "metrics_tls"]
  }
}

compartment "node_exporter" {
  tier        = "trusted"
  unit        = "node_exporter.service"
  executables = ["/usr/local/bin/node_exporter"]
  user        = "node_exporter"
  group       = "node_exporter"
  syscalls    = ["@system-service"]
}

compartment "operator_console" {
  description = "limited-console: a menu of system-status, service-status, view-logs and config-json, with rbash and shadowed binaries."
  tier        = "trusted"
  executables = ["/opt/ic/bin/limited-console"]
  user        = "root"
  group       = "root"
  syscalls    = ["@system-service"]

  allow {
    verbs = ["read"]
    on    = ["host_journal", "host_config", "guest_serial_log"]
  }
}

spawn {
  from = "guest_vm_runner"
  to   = ["guest_vm"]
}

compartment "upgrade_fetcher" {
  description = "Downloads the upgrade image the GuestOS asked for into the staging area, without privileges; host_upgrade_manager checks its hash and installs it."
  tier        = "network-facing"
  unit        = "hostos-upgrade-fetcher.service"
  executables = ["/opt/ic/bin/hostos-upgrade-fetcher"]
  user        = "upgrade-fetcher"
  group       = "upgrade-fetcher"
  syscalls    = ["@system-service"]

  limits {
    core = 0
  }

  allow {
    verbs = ["read", "write", "create", "delete"]
    on    = ["upgrade_staging"]
  }
}

spawn {
  from = "vsock_agent"
  to   = ["upgrade_fetcher", "host_upgrade_manager"]
}
