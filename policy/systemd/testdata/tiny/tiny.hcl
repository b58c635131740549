# A tiny policy for the golden test: a trusted server that spawns an
# untrusted JIT worker inside its unit, a privileged flasher with a unit of
# its own, a secret inside a writable tree, a glob that is not a directory
# prefix, a device, limits and a network channel with literal remotes.

policy {
  name = "tiny"
}

compartment "server" {
  tier        = "trusted"
  unit        = "tiny-server.service"
  executables = ["/usr/libexec/tiny/server"]
  user        = "tiny"
  group       = "tiny"
  syscalls    = ["@system-service"]

  limits {
    nofile = 4096
    core   = 0
  }

  allow {
    verbs = ["read", "write", "create", "delete"]
    on    = ["state"]
  }
  allow {
    verbs = ["read"]
    on    = ["config"]
  }
}

compartment "worker" {
  tier        = "untrusted"
  executables = ["/usr/libexec/tiny/worker"]
  user        = "tiny"
  group       = "tiny"
  syscalls    = ["@basic-io", "@signal", "mmap", "mprotect", "exit_group"]

  limits {
    memory = "512M"
    tasks  = 8
  }

  allow {
    verbs = ["read", "map-exec"]
    on    = ["jit_cache"]
  }
  allow {
    verbs = ["append"]
    on    = ["logs"]
  }
}

compartment "flasher" {
  tier         = "privileged"
  unit         = "tiny-flash@.service"
  executables  = ["/usr/libexec/tiny/flasher"]
  user         = "root"
  group        = "root"
  capabilities = ["CAP_SYS_ADMIN"]
  syscalls     = ["@system-service"]

  allow {
    verbs = ["read", "write"]
    on    = ["disk"]
  }
}

resource "config" {
  kind   = "directory"
  paths  = ["/etc/tiny/**"]
  labels = ["integrity-critical"]
}

resource "state" {
  kind  = "directory"
  paths = ["/var/lib/tiny/**"]
}

resource "keys" {
  kind   = "directory"
  paths  = ["/var/lib/tiny/keys/**"]
  labels = ["secret"]
}

resource "jit_cache" {
  kind  = "directory"
  paths = ["/var/lib/tiny/jit/**"]
}

resource "logs" {
  kind  = "file"
  paths = ["/var/log/tiny/*.log"]
}

resource "disk" {
  kind   = "block-device"
  paths  = ["/dev/vdb"]
  labels = ["integrity-critical"]
}

channel "api" {
  protocol = "tcp"
  ports    = [8443]
  server   = "server"
  remote   = ["192.0.2.0/24", "2001:db8::/32"]
}

channel "jobs" {
  description = "socket pair handed to the worker at spawn"
  protocol    = "unix"
  server      = "server"
  clients     = ["worker"]
}

spawn {
  from = "server"
  to   = ["worker", "flasher"]
}
