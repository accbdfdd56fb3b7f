"""What the tests share: trace builders, miniature clients, checks on the emulator, paths."""
