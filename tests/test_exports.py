"""Public names equal `__all__` in every public module (httpx's exported-members test)."""

from __future__ import annotations

import importlib
import pkgutil
import types

import pytest

import conformance
import runmodel


def _public_modules() -> list[str]:
    names = []
    for pkg in (runmodel, conformance):
        names.append(pkg.__name__)
        for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}."):
            leaf = info.name.rsplit(".", 1)[-1]
            if not leaf.startswith("_") and "._" not in info.name:
                names.append(info.name)
    return sorted(names)


@pytest.mark.parametrize("name", _public_modules())
def test_public_names_equal_all(name: str) -> None:
    module = importlib.import_module(name)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{name} has no __all__"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr!r}"
    defined = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith(("_", "pytest_"))  # pytest hooks are not API
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", name) == name
        and (callable(value) or isinstance(value, type))
        and not (isinstance(value, type) and value.__name__ != attr)  # a renamed class's old name
    }
    assert defined <= set(exported), (
        f"public but not in {name}.__all__: {sorted(defined - set(exported))}"
    )


def test_every_public_type_name_names_one_type() -> None:
    """No two public classes (or type aliases) share a name, such as two `Summary`s."""
    named: dict[str, dict[int, str]] = {}
    for name in _public_modules():
        module = importlib.import_module(name)
        for attr in module.__all__:
            value = getattr(module, attr)
            if isinstance(value, type | types.GenericAlias):
                named.setdefault(attr, {})[id(value)] = name
    shared = {attr: sorted(where.values()) for attr, where in named.items() if len(where) > 1}
    assert shared == {}


def test_renamed_types_stay_importable_by_their_old_names() -> None:
    from conformance.check import CheckSummary, Summary
    from conformance.harness import SearchSummary
    from conformance.harness import Summary as HarnessSummary
    from runmodel.diagram import Coverage, EdgeCounts

    assert (Summary, HarnessSummary, Coverage) == (CheckSummary, SearchSummary, EdgeCounts)
