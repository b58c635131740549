compartment "web" {
  tier        = "network-facing"
  executables = ["/usr/bin/web"]
}

resource "site" {
  kind   = "directory"
  paths  = ["/srv/www/**"]
  labels = ["personal-data"]
}

deny_access "untrusted_no_site" {
  subjects = tier("untrusted")
  verbs    = ["write"]
  objects  = "site"
}

deny_access "no_secrets" {
  subjects = all()
  verbs    = ["read"]
  objects  = [labelled("secret"), labelled("secrets")]
}

no_flow "site_to_net" {
  from = "site"
  to   = network()
}

deny_spawn "web_spawns" {
  from = "web"
  to   = ["ghost"]
}

deny_access "wrong_slot" {
  subjects = labelled("personal-data")
  verbs    = ["read"]
  objects  = roles()
}

deny_access "bare" {
  subjects = web
  verbs    = ["read"]
  objects  = everything()
}

deny_access "never" {
  subjects = ["web"]
  verbs    = ["signal", "connect"]
  objects  = "site"
}
