compartment "web" {
  tier        = "network-facing"
  executables = ["/usr/bin/web"]

  allow {
    verbs = ["connect"]
    on    = ["api"]
  }
}

compartment "proxy" {
  tier        = "network-facing"
  executables = ["/usr/bin/proxy"]
}

resource "keys" {
  kind  = "file"
  paths = ["/etc/keys"]
}

channel "api" {
  protocol = "unix"
  path     = "/run/api.sock"
  ports    = [80]
  server   = "web"
  clients  = ["proxy", "proxy", "keys"]
}

channel "api2" {
  protocol = "unix"
  path     = "/run/api.sock"
  server   = "proxy"
}

channel "http" {
  protocol = "tcp"
  server   = "web"
}

channel "https" {
  protocol = "tcp"
  ports    = [443, 70000, "8000-7000", "x"]
  server   = "web"
  remote   = ["any", "not a host", "10.0.0.0/8"]
}

channel "https_again" {
  protocol = "tcp"
  ports    = ["400-500"]
  server   = "proxy"
}

channel "out" {
  protocol = "tcp"
  ports    = [443]
  clients  = ["web"]
}

channel "weird" {
  protocol = "sctp"
  server   = "web"
}
