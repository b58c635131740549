compartment "web" {
  tier        = "network-facing"
  executables = ["usr/bin/web", "/usr/bin/web*"]
}

resource "site" {
  kind  = "directory"
  paths = ["srv/www/**", "/srv/www/", "/srv//x", "/srv/../etc", "/srv/a**", "/srv/[ab]"]
}

channel "api" {
  protocol = "unix"
  path     = "run/api.sock"
  server   = "web"
}
