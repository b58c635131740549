compartmnet "web" {
  tier = "trusted"
}

resource "data" {
  kind   = "directory"
  paths  = ["/srv/data/**"]
  lables = ["secret"]
}

resource "logs" {
  paths = ["/var/log/**"]
}
