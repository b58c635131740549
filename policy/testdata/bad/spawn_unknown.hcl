compartment "launcher" {
  tier        = "trusted"
  executables = ["/usr/bin/launcher"]
}

compartment "worker" {
  tier        = "untrusted"
  executables = ["/usr/bin/worker"]
}

resource "data" {
  kind  = "directory"
  paths = ["/srv/data/**"]
}

role "admin" {
  enter = ["lancher"]
}

spawn {
  from = "launcher"
  to   = ["wroker", "data"]
}

spawn {
  from = "admin"
  to   = ["worker"]
}
