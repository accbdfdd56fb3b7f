"""Tests of the command line, `runmodel check` and `runmodel diagram --coverage`, end to end."""
