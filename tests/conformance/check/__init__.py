"""Tests of the checker, `conformance.check`, on made-up and real traces."""
