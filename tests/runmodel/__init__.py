"""Tests of the model, `runmodel`."""
