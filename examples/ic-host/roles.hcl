role "admin" {
  description = "HostOS administrators (node operators via ssh_authorized_keys on the SetupOS config partition). No access to the GuestOS."
  accounts    = ["admin"]
  enter       = ["operator_console", "host_upgrade_manager"]

  allow {
    verbs = ["read"]
    on    = ["host_journal", "host_config", "guest_serial_log", "boot_files"]
  }
  allow {
    verbs = ["signal"]
    on    = ["guest_vm_runner", "metrics_proxy"]
  }
}

role "readonly" {
  accounts = ["readonly"]
  enter    = ["operator_console"]

  allow {
    verbs = ["read"]
    on    = ["host_journal"]
  }
}

role "backup" {
  accounts = ["backup"]

  allow {
    verbs = ["read"]
    on    = ["host_journal"]
  }
}
