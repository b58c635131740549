compartment "web" {
  tier        = "trusted"
  executables = ["/usr/bin/web"]
}

resource "web" {
  kind  = "file"
  paths = ["/srv/web"]
}

compartment "Web-2" {
  tier = "trusted"
}

compartment "db" {
  tier        = "trusted"
  executables = ["/usr/bin/web"]
  user        = "Root"
}

label "secret" {}

label "public" {}

label "public" {}

deny_access "x" {
  subjects = ["web"]
  verbs    = ["signal"]
  objects  = ["db"]
}

deny_access "x" {
  subjects = ["web"]
  verbs    = ["signal"]
  objects  = ["db"]
}

policy {
  name = "a"
}

policy {
  name = "b"
}
