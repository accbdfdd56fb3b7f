"""Tests of the readers, `conformance.readers`: every format, fuzzed, and the real recordings."""
