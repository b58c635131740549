# Policy unit tests for the ic-host example: rampart policy test
# examples/ic-host/policy_test.hcl

expect "the guest cannot write the host's boot chain" {
  deny {
    subject = "guest_vm"
    verb    = "write"
    path    = "/dev/hostlvm/A_boot"
  }
  deny {
    subject = "guest_vm"
    verb    = "create"
    path    = "/grub/grubenv"
  }
  allow {
    subject = "host_upgrade_manager"
    verb    = "write"
    path    = "/dev/hostlvm/B_root"
  }
}

expect "guest requests reach the slots only through the vsock agent" {
  no_flow {
    from           = "guest_vm"
    to             = ["hostos_slots", "host_grub"]
    except_through = ["vsock_agent"]
  }
  flow {
    from      = "guest_vm"
    to        = "hostos_slots"
    max_steps = 6
  }
}

expect "the guest opens no network channel" {
  deny {
    subject = "guest_vm"
    verb    = "connect"
    port    = "tcp/443"
  }
}

# Known exposure: guest_vm_runner (root) parses the guest's disk, which
# the guest writes and which is labelled integrity-critical; a parsing bug
# there hands the host runner to a compromised guest. The analysis counts
# that as a takeover (docs/policy.md, "Blast radius").
expect "a compromised guest reaches the runner, not the upgrade path" {
  blast_radius {
    of         = "guest_vm"
    takes_over = ["guest_vm_runner"]
    feeds      = ["vsock_agent"]
    excludes   = ["host_upgrade_manager", "hostos_slots", "host_grub", "metrics_tls"]
  }
}

expect "the readonly role enters only the console" {
  blast_radius {
    of         = "readonly"
    takes_over = ["operator_console"]
    excludes   = ["host_upgrade_manager", "guest_vm"]
  }
}
