"""Real peers (servers) that tests start as subprocesses on loopback ports."""
