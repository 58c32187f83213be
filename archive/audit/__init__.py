"""The tamper-evident access log: a hash chain of entries, write-once checkpoints, verification."""
