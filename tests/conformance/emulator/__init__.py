"""Tests of the emulator, `conformance.emulator`."""
