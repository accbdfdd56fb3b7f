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
    }
    assert defined <= set(exported), (
        f"public but not in {name}.__all__: {sorted(defined - set(exported))}"
    )
