compartment "web" {
  tier              = "trusted"
  executables       = "/usr/bin/web"
  capabilities      = ["NET_ADMN", "cap_net_raw", "CAP_NET_RAW"]
  syscalls          = ["@system-servce", "Open", "read"]
  isolate_instances = "yes"

  limits {
    memory = "12Q"
    core   = -1
    cpu    = 0
    nofile = 1.5
    tasks  = var.tasks
  }

  allow {
    verbs = ["exec", "raed"]
    on    = []
  }
}
