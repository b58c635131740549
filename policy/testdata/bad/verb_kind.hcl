compartment "web" {
  tier        = "network-facing"
  executables = ["/usr/bin/web"]

  allow {
    verbs = ["read", "execute"]
    on    = ["tty"]
  }
  allow {
    verbs = ["connect", "signal"]
    on    = ["site"]
  }
  allow {
    verbs = ["read", "spawn"]
    on    = ["worker"]
  }
  allow {
    verbs = ["map-exec"]
    on    = ["worker"]
  }
}

compartment "worker" {
  tier = "untrusted"
}

resource "tty" {
  kind  = "char-device"
  paths = ["/dev/tty1"]
}

resource "site" {
  kind  = "directory"
  paths = ["/srv/www/**"]
}
