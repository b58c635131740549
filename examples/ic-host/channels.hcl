channel "guest_commands" {
  description = "the GuestOS's requests to the host (vsock); the QEMU process carries them"
  protocol    = "vsock"
  ports       = [19090]
  server      = "vsock_agent"
  clients     = ["guest_vm"]
}

channel "node_exporter_local" {
  description = "host node_exporter, reachable only locally"
  protocol    = "tcp"
  ports       = [9100]
  server      = "node_exporter"
  clients     = ["metrics_proxy"]
}

channel "metrics_public" {
  protocol = "tcp"
  ports    = [42372]
  server   = "metrics_proxy"
  remote   = ["any"]
}

channel "upgrade_downloads" {
  protocol = "tcp"
  ports    = [443]
  clients  = ["upgrade_fetcher"]
  remote   = ["any"]
}
