# Broken variant of examples/ic-node: the network-facing HTTP endpoint may
# rewrite IC binaries (write implies append).
# base: ic-node
# expect: network_facing_no_executable_write: http_endpoint write ic_binaries
# expect: network_facing_no_executable_write: http_endpoint append ic_binaries

allow "http_endpoint" {
  verbs = ["write"]
  on    = ["ic_binaries"]
}
