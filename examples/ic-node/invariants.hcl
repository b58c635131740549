deny_access "sandboxes_no_network" {
  description = "No sandbox reaches the network."
  subjects    = tier("untrusted")
  verbs       = ["connect", "bind", "listen"]
  objects     = network()
}

deny_access "sandboxes_no_key_store" {
  description = "No sandbox touches key material or the crypto vault's socket."
  subjects    = tier("untrusted")
  verbs       = ["read", "write", "append", "create", "delete", "setattr", "execute", "map-exec", "connect"]
  objects     = [labelled("secret"), "crypto_csp"]
}

deny_spawn "sandboxes_start_nothing" {
  description = "Sandboxes cannot start other compartments."
  from        = tier("untrusted")
  to          = compartments()
  transitive  = true
}

deny_access "sandbox_instances_isolated" {
  description = "Sandboxes cannot signal or trace any compartment (including other sandbox instances)."
  subjects    = tier("untrusted")
  verbs       = ["signal", "ptrace"]
  objects     = compartments()
}

deny_capability "sandboxes_no_capabilities" {
  subjects = tier("untrusted")
}

deny_access "only_vault_reads_keys" {
  description = "No compartment or role but crypto_vault reads resources labelled secret."
  subjects    = all_except(["crypto_vault"])
  verbs       = ["read", "execute", "map-exec"]
  objects     = labelled("secret")
}

no_flow "keys_leave_only_through_vault" {
  description = "No information flows from the key store to a network channel except through crypto_vault."
  from        = "node_keys"
  to          = network()
  except_through = ["crypto_vault"]
}

deny_access "network_facing_no_executable_write" {
  description = "Network-facing compartments write no executable and nothing on the root filesystem."
  subjects    = tier("network-facing")
  verbs       = ["write", "append", "create", "delete", "setattr"]
  objects     = [executables(), labelled("rootfs")]
}

deny_access "untrusted_no_executable_write" {
  subjects = tier("untrusted")
  verbs    = ["write", "append", "create", "delete", "setattr"]
  objects  = executables()
}

deny_access "only_compiler_has_execmem" {
  description = "Anonymous executable memory only in the compiler sandbox."
  subjects    = all_except(["compiler_sandbox"])
  verbs       = ["map-exec"]
  objects     = compartments()
}

deny_access "operators_no_key_material" {
  description = "Readonly and backup operators cannot read key material."
  subjects    = ["readonly", "backup"]
  verbs       = ["read"]
  objects     = labelled("secret")
}

deny_access "only_upgrade_manager_writes_boot" {
  description = "Only the upgrade manager writes the boot and upgrade partitions."
  subjects    = all_except(["upgrade_manager"])
  verbs       = ["write", "append", "create", "delete", "setattr"]
  objects     = labelled("boot")
}
