# Policy unit tests for the ic-node example: rampart policy test
# examples/ic-node/policy_test.hcl (the policy is this directory; the
# loader skips *_test.hcl files).

expect "canister sandboxes cannot touch key material" {
  deny {
    subject = "canister_sandbox"
    verb    = "read"
    path    = "/var/lib/ic/crypto/public_keys.pb"
  }
  deny {
    subject = "canister_sandbox"
    verb    = "connect"
    object  = "crypto_csp"
  }
  deny {
    subject = "compiler_sandbox"
    verb    = "read"
    path    = "/var/lib/ic/crypto/sks_data.pb"
  }
}

expect "only the vault reads keys, and operators cannot" {
  allow {
    subject = "crypto_vault"
    verb    = "read"
    path    = "/var/lib/ic/crypto/sks_data.pb"
  }
  deny {
    subject = "readonly"
    verb    = "read"
    path    = "/var/lib/ic/crypto/sks_data.pb"
  }
  deny {
    subject = "admin"
    verb    = "read"
    path    = "/var/lib/ic/crypto/sks_data.pb"
  }
}

expect "sandboxes have no network" {
  deny {
    subject = "canister_sandbox"
    verb    = "connect"
    port    = "tcp/443"
  }
  deny {
    subject = "compiler_sandbox"
    verb    = "bind"
    port    = "tcp/8080"
  }
}

expect "precompiled modules are mapped, never written, by the sandbox" {
  allow {
    subject = "canister_sandbox"
    verb    = "map-exec"
    path    = "/var/lib/ic/data/wasm_cache/module.so"
  }
  deny {
    subject = "canister_sandbox"
    verb    = "write"
    path    = "/var/lib/ic/data/wasm_cache/module.so"
  }
}

expect "only the compiler sandbox has executable anonymous memory" {
  allow {
    subject = "compiler_sandbox"
    verb    = "map-exec"
    object  = "compiler_sandbox"
  }
  deny {
    subject = "canister_sandbox"
    verb    = "map-exec"
    object  = "canister_sandbox"
  }
}

expect "only the upgrade manager writes the A/B slots" {
  allow {
    subject = "upgrade_manager"
    verb    = "write"
    path    = "/dev/vda4"
  }
  deny {
    subject = "replica"
    verb    = "write"
    path    = "/dev/vda4"
  }
  deny {
    subject = "orchestrator"
    verb    = "write"
    path    = "/dev/vda8"
  }
}

expect "keys leave the node only through the vault" {
  no_flow {
    from           = "node_keys"
    to             = network()
    except_through = ["crypto_vault"]
  }
  # Signatures do leave: the vault answers the replica, which gossips.
  flow {
    from      = "node_keys"
    to        = "p2p"
    max_steps = 4
  }
}

expect "canister input reaches the replica, and the key store only through the vault" {
  flow {
    from      = "canister_sandbox"
    to        = "replica"
    max_steps = 2
  }
  # Requests do reach the vault, which writes the key store: the flow is
  # allowed only through the vault.
  no_flow {
    from           = "canister_sandbox"
    to             = "node_keys"
    except_through = ["crypto_vault"]
  }
}

expect "a compromised canister sandbox stays contained" {
  blast_radius {
    of       = "canister_sandbox"
    reads    = ["canister_memory", "wasm_cache"]
    feeds    = ["replica"]
    excludes = ["node_keys", "crypto_vault", "replica", "ic_binaries", "guestos_slots", "p2p", "public_http"]
  }
}

expect "a compromised HTTP endpoint feeds the replica but takes nothing over" {
  blast_radius {
    of       = "http_endpoint"
    feeds    = ["replica"]
    excludes = ["node_keys", "ic_binaries", "upgrade_manager", "canister_sandbox"]
  }
}

expect "the orchestrator controls upgrades but not the keys" {
  blast_radius {
    of         = "orchestrator"
    takes_over = ["replica", "upgrade_manager", "ssh_key_provisioner", "canister_sandbox"]
    alters     = ["guestos_slots", "authorized_keys"]
    feeds      = ["crypto_vault"]
    excludes   = ["node_keys"]
  }
}

expect "an admin takes over the upgrade manager, not the vault" {
  blast_radius {
    of         = "admin"
    takes_over = ["upgrade_manager"]
    excludes   = ["node_keys", "crypto_vault", "replica"]
  }
}
