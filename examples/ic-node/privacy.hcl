# What the node agent writes to its ledger, and how (docs/agent.md,
# "Privacy"). Without this block the agent uses the same defaults; the
# block makes them explicit and adds what is specific to the IC.

privacy {
  # Pseudonym and Crypto-PAn key: generated on first start, mode 0600.
  # Keep it apart from the ledger (/var/lib/rampart/ledger): whoever holds
  # it can re-identify pseudonyms.
  keyring = "/var/lib/rampart/keys/privacy.keyring"

  # Operators' addresses keep their subnet structure (who came from the
  # same network), not their identity.
  ip {
    mode = "cryptopan"
  }

  # IC principals (users, canisters, nodes) in command lines and paths:
  # groups of five base32 characters, e.g. rrkah-fqaaa-aaaaa-aaaaq-cai.
  redact "ic-principal" {
    pattern = "\\b(?:[a-z2-7]{5}-){4,10}[a-z2-7]{1,5}\\b"
  }

  # Keystrokes are never kept (also the default); operator commands are
  # redacted like any argument.
  event "USER_TTY" {
    drop = ["data"]
  }
}
