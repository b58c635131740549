compartment "web" {
  tier = "trusted"
  executables = ["/usr/bin/web"
}
