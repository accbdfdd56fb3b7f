"""The checker's modules export exactly their public names."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = [
    "conformance.check",
    "conformance.check.actions",
    "conformance.check.clock",
    "conformance.check.engine",
    "conformance.check.fields",
    "conformance.check.findings",
    "conformance.check.links",
    "conformance.check.moves",
    "conformance.check.parts",
    "conformance.check.results",
    "conformance.check.state",
    "conformance.check.streams",
    "conformance.check.verdicts",
    "conformance.errors",
    "conformance.reports",
    "conformance.cli.check",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    assert all(hasattr(module, n) for n in exported)
    defined = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and (inspect.isclass(v) or inspect.isfunction(v))
        and v.__module__ == name
    }
    assert defined <= exported


def test_the_package_exports_the_engine_and_its_results() -> None:
    package = importlib.import_module("conformance.check")
    for sub in ("conformance.check.engine", "conformance.check.results"):
        assert set(importlib.import_module(sub).__all__) <= set(package.__all__)
