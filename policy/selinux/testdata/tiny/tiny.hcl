# A tiny policy for the golden test: every block kind and every invariant
# form, a few of each.

policy {
  name = "tiny"
}

label "config" {}

compartment "web" {
  tier        = "network-facing"
  executables = ["/opt/app/bin/web"]
  allow {
    verbs = ["read"]
    on    = ["app_config", "app_bin"]
  }
  allow {
    verbs = ["append", "create"]
    on    = ["access_log"]
  }
}

compartment "worker" {
  tier         = "trusted"
  executables  = ["/opt/app/bin/worker"]
  capabilities = ["CAP_NET_ADMIN"]
  allow {
    verbs = ["read", "write", "create", "delete"]
    on    = ["app_data"]
  }
  allow {
    verbs = ["signal"]
    on    = ["web"]
  }
}

compartment "sandbox" {
  tier        = "untrusted"
  executables = ["/opt/app/bin/sandbox"]
  allow {
    verbs = ["map-exec"]
    on    = ["sandbox"]
  }
}

spawn {
  from = "worker"
  to   = ["sandbox"]
}

role "operator" {
  accounts = ["ops"]
  enter    = ["worker"]
  allow {
    verbs = ["read"]
    on    = ["access_log"]
  }
}

resource "app_bin" {
  kind   = "directory"
  paths  = ["/opt/app/bin/**"]
  labels = ["executable"]
}

resource "app_config" {
  kind   = "file"
  paths  = ["/etc/app.conf"]
  labels = ["config"]
}

resource "app_data" {
  kind   = "directory"
  paths  = ["/var/lib/app/**"]
  labels = ["secret"]
}

resource "access_log" {
  kind  = "file"
  paths = ["/var/log/app/access.log"]
}

resource "tty" {
  kind  = "char-device"
  paths = ["/dev/ttyS0"]
}

channel "api" {
  protocol = "unix"
  path     = "/run/app/api.sock"
  server   = "worker"
  clients  = ["web"]
}

channel "work" {
  protocol = "unix"
  server   = "worker"
  clients  = ["sandbox"]
}

channel "https" {
  protocol = "tcp"
  ports    = [443, "8443-8444"]
  server   = "web"
  remote   = ["any"]
}

deny_access "only_worker_reads_data" {
  subjects = all_except(["worker"])
  verbs    = ["read", "write"]
  objects  = labelled("secret")
}

deny_access "sandbox_offline" {
  subjects = tier("untrusted")
  verbs    = ["connect", "bind"]
  objects  = [kind("tcp"), "api"]
}

deny_spawn "sandbox_spawns_nothing" {
  from       = ["sandbox"]
  to         = compartments()
  transitive = true
}

deny_capability "web_unprivileged" {
  subjects = ["web", "sandbox"]
}

no_flow "data_stays" {
  from = "app_data"
  to   = network()
}
