role "admin" {
  description = "Node administrators. Upstream, admin is omnipotent (sudo ALL); here admin may run the upgrade manager and read operational data, but not key material."
  accounts    = ["admin"]
  enter       = ["upgrade_manager"]

  allow {
    verbs = ["read"]
    on    = ["ic_config", "journal", "ic_data", "consensus_pool", "orchestrator_data", "registry_store", "upgrade_images", "boot_files", "grub_files", "nftables_ruleset"]
  }
  allow {
    verbs = ["signal"]
    on    = ["orchestrator", "replica"]
  }
}

role "readonly" {
  description = "May read everything besides crypto (keys are registry-governed: SubnetRecord.ssh_readonly_access)."
  accounts    = ["readonly"]

  allow {
    verbs = ["read"]
    on    = ["ic_config", "journal", "ic_data", "ic_state", "consensus_pool", "orchestrator_data", "registry_store", "backups", "boot_files"]
  }
}

role "backup" {
  description = "Fetches consensus pool backups with rsync (SubnetRecord.ssh_backup_access)."
  accounts    = ["backup"]

  allow {
    verbs = ["read"]
    on    = ["backups"]
  }
}
