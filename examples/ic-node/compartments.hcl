compartment "orchestrator" {
  description = "Supervises the replica, follows the NNS registry, downloads and installs upgrades, provisions operator SSH keys, writes the firewall ruleset."
  tier        = "trusted"
  unit        = "ic-replica.service"
  executables = ["/opt/ic/bin/orchestrator"]
  user        = "ic-replica"
  group       = "ic-replica"
  groups      = ["nonconfidential", "ic-csp-vault-socket", "ic-registry-local-store"]
  syscalls    = ["@system-service"]

  limits {
    nofile = 16384
    core   = 0
  }

  allow {
    verbs = ["read"]
    on    = ["ic_config", "ic_binaries"]
  }
  allow {
    verbs = ["read", "write", "create", "delete", "setattr"]
    on    = ["orchestrator_data", "registry_store", "upgrade_images", "nftables_ruleset"]
  }
  allow {
    verbs = ["read", "ioctl"]
    on    = ["sev_guest"]
  }
  allow {
    verbs = ["read", "write", "ioctl"]
    on    = ["vsock_device"]
  }
  allow {
    verbs = ["signal"]
    on    = ["replica"]
  }
}

compartment "replica" {
  description = "Runs consensus, message routing and execution; launches one canister sandbox per canister and the compiler sandbox."
  tier        = "trusted"
  executables = ["/opt/ic/bin/replica"]
  user        = "ic-replica"
  group       = "ic-replica"
  groups      = ["nonconfidential", "ic-csp-vault-socket", "ic-registry-local-store", "backup"]
  syscalls    = ["@system-service"]

  limits {
    nofile = 1048576
    core   = 0
  }

  allow {
    verbs = ["read"]
    on    = ["ic_config", "registry_store"]
  }
  allow {
    verbs = ["read", "write", "create", "delete", "setattr"]
    on    = ["ic_state", "canister_memory", "consensus_pool", "backups", "wasm_cache"]
  }
  allow {
    verbs = ["signal"]
    on    = ["canister_sandbox", "compiler_sandbox"]
  }
}

compartment "canister_sandbox" {
  description = "Executes one canister's WebAssembly (arbitrary, attacker-supplied code). Works only on descriptors the replica passes over its socket pair; instances must not see each other."
  tier              = "untrusted"
  executables       = ["/opt/ic/bin/canister_sandbox"]
  user              = "ic-replica"
  group             = "ic-replica"
  isolate_instances = true
  syscalls = [
    "@basic-io", "@io-event", "@signal", "@timer", "@sync",
    "mmap", "mprotect", "munmap", "madvise", "mremap", "futex",
    "sendmsg", "recvmsg", "sched_yield", "exit", "exit_group",
  ]

  limits {
    memory = "8G"
    nofile = 1024
    tasks  = 16
    core   = 0
  }

  # Upstream: allow ic_canister_sandbox_t ic_canister_mem_t : file { map read write getattr }.
  # Write includes truncation: the documented SIGBUS weakness (see dfinity-icos.md 2.7).
  allow {
    verbs = ["read", "write"]
    on    = ["canister_memory"]
  }
  # Precompiled modules are mapped executable, never written.
  allow {
    verbs = ["read", "map-exec"]
    on    = ["wasm_cache"]
  }
}

compartment "compiler_sandbox" {
  description = "Compiles untrusted WebAssembly to machine code (code generation needs executable memory); never runs it."
  tier        = "untrusted"
  executables = ["/opt/ic/bin/compiler_sandbox"]
  user        = "ic-replica"
  group       = "ic-replica"
  syscalls    = ["@basic-io", "@io-event", "@signal", "mmap", "mprotect", "munmap", "madvise", "futex", "sendmsg", "recvmsg", "exit_group"]

  limits {
    memory = "4G"
    tasks  = 64
    core   = 0
  }

  # execmem: the only compartment with anonymous executable memory.
  allow {
    verbs = ["map-exec"]
    on    = ["compiler_sandbox"]
  }
}

compartment "crypto_vault" {
  description = "ic-crypto-csp: holds the node's signing keys and signs on request over its unix socket (tarpc TarpcCspVault)."
  tier        = "trusted"
  unit        = "ic-crypto-csp.service"
  executables = ["/opt/ic/bin/ic-crypto-csp"]
  user        = "ic-csp-vault"
  group       = "ic-csp-vault"
  syscalls    = ["@system-service"]

  limits {
    core = 0 # key material must never reach a core dump
  }

  allow {
    verbs = ["read", "write", "create", "delete", "setattr"]
    on    = ["node_keys"]
  }
  allow {
    verbs = ["read"]
    on    = ["ic_config"]
  }
}

compartment "http_endpoint" {
  description = "Public HTTP API (8080) and XNet (2497) endpoint; forwards to the replica over a unix socket."
  tier        = "network-facing"
  unit        = "ic-http-endpoint.service"
  executables = ["/opt/ic/bin/ic-http-endpoint"]
  user        = "ic-http-endpoint"
  group       = "ic-http-endpoint"
  syscalls    = ["@system-service"]

  limits {
    nofile = 65536
    core   = 0
  }

  allow {
    verbs = ["read"]
    on    = ["ic_config"]
  }
}

compartment "https_outcalls_adapter" {
  description = "Performs canister HTTPS outcalls on the replica's behalf."
  tier        = "network-facing"
  unit        = "ic-https-outcalls-adapter.service"
  executables = ["/opt/ic/bin/ic-https-outcalls-adapter"]
  user        = "ic-http-adapter"
  group       = "ic-http-adapter"
  syscalls    = ["@system-service"]

  limits {
    core = 0
  }

  allow {
    verbs = ["read"]
    on    = ["ic_config"]
  }
}

compartment "bitcoin_adapter" {
  description = "ic-btc-adapter: talks to the Bitcoin peer-to-peer network for the bitcoin canister. Upstream runs it as ic-replica; here it has its own user."
  tier        = "network-facing"
  unit        = "ic-btc-mainnet-adapter.service"
  executables = ["/opt/ic/bin/ic-btc-adapter"]
  user        = "ic-btc-adapter"
  group       = "ic-btc-adapter"
  syscalls    = ["@system-service"]

  limits {
    core = 0
  }

  allow {
    verbs = ["read"]
    on    = ["ic_config"]
  }
  allow {
    verbs = ["read", "write", "create", "delete"]
    on    = ["btc_data"]
  }
}

compartment "node_exporter" {
  description = "Prometheus node exporter on TLS port 9100."
  tier        = "network-facing"
  unit        = "node_exporter.service"
  executables = ["/usr/local/bin/node_exporter"]
  user        = "node_exporter"
  group       = "node_exporter"
  syscalls    = ["@system-service"]

  limits {
    core = 0
  }

  allow {
    verbs = ["read"]
    on    = ["node_exporter_tls"]
  }
}

compartment "upgrade_manager" {
  description = "manageboot.sh: writes the inactive A/B slot, wipes its var partition, flips grubenv, confirms or falls back."
  tier         = "privileged"
  unit         = "ic-manageboot@.service"
  executables  = ["/opt/ic/bin/manageboot.sh"]
  user         = "root"
  group        = "root"
  capabilities = ["CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_DAC_OVERRIDE"]
  syscalls     = ["@system-service", "@reboot"]

  allow {
    verbs = ["read", "write"]
    on    = ["guestos_slots", "var_partitions"]
  }
  allow {
    verbs = ["read", "write", "create", "delete"]
    on    = ["grub_files"]
  }
  allow {
    verbs = ["read"]
    on    = ["upgrade_images", "boot_files"]
  }
}

compartment "ssh_key_provisioner" {
  description = "provision-ssh-keys.sh: installs registry-governed readonly/backup SSH keys on the config partition."
  tier        = "privileged"
  unit        = "ic-provision-ssh-keys@.service"
  executables = ["/opt/ic/bin/provision-ssh-keys.sh"]
  user        = "root"
  group       = "root"
  syscalls    = ["@system-service"]

  allow {
    verbs = ["read", "write", "create", "delete", "setattr"]
    on    = ["authorized_keys"]
  }
}

spawn {
  from = "orchestrator"
  to   = ["replica", "upgrade_manager", "ssh_key_provisioner"]
}

spawn {
  from = "replica"
  to   = ["canister_sandbox", "compiler_sandbox"]
}
