"""The tests: one package per package of the code, and `tests.helpers` for what they share."""
