resource "keys" {
  kind   = "directory"
  paths  = ["/var/lib/app/keys/**"]
  labels = ["secret"]
}

# More specific than keys, but drops "secret": conflicting labels.
resource "public_keys" {
  kind  = "file"
  paths = ["/var/lib/app/keys/*.pub"]
}

# Equally specific globs in two resources: ambiguous.
resource "logs_a" {
  kind  = "file"
  paths = ["/var/log/*/app/*"]
}

resource "logs_b" {
  kind  = "file"
  paths = ["/var/log/*/*/app"]
}

resource "dup" {
  kind  = "file"
  paths = ["/etc/app.conf"]
}

resource "dup2" {
  kind  = "file"
  paths = ["/etc/app.conf"]
}

# Outer secret, inner exact path without it.
resource "shadow" {
  kind  = "file"
  paths = ["/var/lib/app/keys/node.key"]
  labels = ["integrity-critical"]
}
