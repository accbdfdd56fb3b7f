"""Tests of the conformance kit, `conformance`."""
