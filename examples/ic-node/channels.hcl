channel "crypto_csp" {
  description = "the crypto vault's RPC socket (systemd socket activation)"
  protocol    = "unix"
  path        = "/run/ic-node/crypto-csp/socket"
  server      = "crypto_vault"
  clients     = ["replica", "orchestrator"]
}

channel "replica_ingress" {
  description = "requests from the HTTP/XNet endpoint to the replica"
  protocol    = "unix"
  path        = "/run/ic-node/replica/ingress.sock"
  server      = "replica"
  clients     = ["http_endpoint"]
}

channel "https_outcalls" {
  protocol = "unix"
  path     = "/run/ic-node/https-outcalls-adapter/socket"
  server   = "https_outcalls_adapter"
  clients  = ["replica"]
}

channel "bitcoin_adapter_rpc" {
  protocol = "unix"
  path     = "/run/ic-node/bitcoin-mainnet-adapter/socket"
  server   = "bitcoin_adapter"
  clients  = ["replica"]
}

channel "sandbox_rpc" {
  description = "socket pair on fd 3: sbxsvc/ctlsvc RPC, memory and checkpoint descriptors"
  protocol    = "unix"
  server      = "replica"
  clients     = ["canister_sandbox"]
}

channel "compiler_rpc" {
  description = "socket pair on fd 3: PlainWasm in, CompiledWasm out"
  protocol    = "unix"
  server      = "replica"
  clients     = ["compiler_sandbox"]
}

channel "public_http" {
  protocol = "tcp"
  ports    = [8080]
  server   = "http_endpoint"
  remote   = ["any"]
}

channel "xnet" {
  protocol = "tcp"
  ports    = [2497]
  server   = "http_endpoint"
  remote   = ["any"]
}

channel "p2p" {
  description = "consensus gossip with the subnet's other replicas"
  protocol    = "tcp"
  ports       = [4100]
  server      = "replica"
  remote      = ["any"]
}

channel "p2p_out" {
  protocol = "tcp"
  ports    = [4100]
  clients  = ["replica"]
  remote   = ["any"]
}

channel "replica_metrics" {
  protocol = "tcp"
  ports    = [9090]
  server   = "replica"
  remote   = ["any"]
}

channel "node_exporter_metrics" {
  protocol = "tcp"
  ports    = [9100]
  server   = "node_exporter"
  remote   = ["any"]
}

channel "registry_and_images" {
  description = "NNS registry polling and upgrade image downloads"
  protocol    = "tcp"
  ports       = [443]
  clients     = ["orchestrator"]
  remote      = ["any"]
}

channel "outcalls_out" {
  protocol = "tcp"
  ports    = [80, 443]
  clients  = ["https_outcalls_adapter"]
  remote   = ["any"]
}

channel "bitcoin_p2p" {
  protocol = "tcp"
  ports    = [8333]
  clients  = ["bitcoin_adapter"]
  remote   = ["any"]
}
