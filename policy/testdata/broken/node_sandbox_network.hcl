# Broken variant of examples/ic-node: a canister sandbox may open outbound
# HTTPS connections.
# base: ic-node
# expect: sandboxes_no_network: canister_sandbox connect sandbox_exfil

channel "sandbox_exfil" {
  protocol = "tcp"
  ports    = [443]
  clients  = ["canister_sandbox"]
  remote   = ["any"]
}
