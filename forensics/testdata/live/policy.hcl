policy {
  name        = "investigate-live-scenario"
  description = "a network-facing web service and a trusted backend"
}

compartment "webapp" {
  description = "stand-in network-facing service"
  tier        = "network-facing"
  executables = ["/tmp/rampart-live-3618572037/bin/webapp"]
  allow {
    verbs = ["read"]
    on    = ["api_token", "webapp_content"]
  }
}

compartment "backend" {
  tier        = "trusted"
  executables = ["/tmp/rampart-live-3618572037/bin/backend"]
  allow {
    verbs = ["read"]
    on    = ["db_password"]
  }
  allow {
    verbs = ["read", "write", "create"]
    on    = ["backend_data"]
  }
}

resource "api_token" {
  kind   = "file"
  paths  = ["/tmp/rampart-live-3618572037/secrets/api_token"]
  labels = ["secret"]
  owner  = "webapp"
}

resource "db_password" {
  kind   = "file"
  paths  = ["/tmp/rampart-live-3618572037/secrets/db_password"]
  labels = ["secret"]
  owner  = "backend"
}

resource "webapp_content" {
  kind  = "directory"
  paths = ["/tmp/rampart-live-3618572037/www/**"]
}

resource "backend_data" {
  kind   = "directory"
  paths  = ["/tmp/rampart-live-3618572037/data/**"]
  labels = ["integrity-critical"]
}

channel "web" {
  protocol = "tcp"
  ports    = [41989]
  server   = "webapp"
  remote   = ["any"]
}

channel "backend_api" {
  protocol = "unix"
  path     = "/tmp/rampart-live-3618572037/backend.sock"
  server   = "backend"
  clients  = ["webapp"]
}
