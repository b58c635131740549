# Names programs of the shared audit logs as compartments, so that
# attribution, decisions and rules have work to do. Used by the agent's
# corpus test and by bench/agentbench.
policy {
  name = "corpus"
}

compartment "php" {
  tier        = "network-facing"
  executables = ["/usr/bin/php"]
}

compartment "sshd" {
  tier        = "network-facing"
  executables = ["/usr/sbin/sshd"]
  allow {
    verbs = ["read"]
    on    = ["shadow", "etc"]
  }
}

compartment "wget" {
  tier        = "trusted"
  executables = ["/home/vagrant/UBSI/UBSI_patch/wget-1.17.1/src/wget"]
  allow {
    verbs = ["read"]
    on    = ["etc"]
  }
}

compartment "strace" {
  tier        = "privileged"
  executables = ["/usr/bin/strace"]
}

role "ops" {
  accounts = ["andrew_kroh", "vagrant"]
  allow {
    verbs = ["read"]
    on    = ["etc"]
  }
}

resource "etc" {
  kind   = "directory"
  paths  = ["/etc/**"]
  labels = ["integrity-critical"]
}

resource "shadow" {
  kind   = "file"
  paths  = ["/etc/shadow", "/etc/gshadow"]
  labels = ["secret", "integrity-critical"]
  owner  = "sshd"
}

channel "memcached" {
  protocol = "tcp"
  ports    = [11211]
  clients  = ["php"]
  remote   = ["127.0.0.1", "::1"]
}

deny_access "only_sshd_reads_shadow" {
  subjects = all_except(["sshd"])
  verbs    = ["read"]
  objects  = labelled("secret")
}
