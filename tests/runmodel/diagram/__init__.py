"""Tests of the lifecycle diagrams, `runmodel.diagram`."""
