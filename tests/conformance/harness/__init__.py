"""Tests of the harness, `conformance.harness`: contracts, counterexamples, its runtime."""
