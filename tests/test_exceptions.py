"""One exception root: every error the model and the kit define is a `runmodel.RunmodelError`.

The only exceptions outside it are the kit's stop signals, which derive from BaseException (not
Exception) so that a client's ``except Exception`` cannot swallow them.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import types
from pathlib import Path

import pytest

import conformance
import runmodel
from runmodel import RunmodelError

# Public exceptions users may already catch by their standard base: they keep it.
KEPT_BASES = {
    "runmodel.ModelDefinitionError": ValueError,
    "runmodel.diagram.GraphvizNotFound": RuntimeError,
    "conformance.emulator.ScriptError": ValueError,
    "conformance.proxy.UpstreamError": ValueError,
    "conformance.targets.TargetError": ValueError,
    "conformance.tools.ToolsError": ValueError,
    "conformance.harness.ClientCheckFailed": AssertionError,
    "conformance.trace.TraceWriteWarning": RuntimeWarning,
}


def exception_classes(*packages: types.ModuleType) -> dict[str, type[BaseException]]:
    """Every exception class defined in the packages' modules, by dotted name (by import)."""
    found: dict[str, type[BaseException]] = {}
    for pkg in packages:
        names = [pkg.__name__]
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, prefix=f"{pkg.__name__}.")]
        for name in names:
            if name.rsplit(".", 1)[-1] == "__main__":  # runs the command line when imported
                continue
            module = importlib.import_module(name)
            for attr, value in vars(module).items():
                if (
                    inspect.isclass(value)
                    and issubclass(value, BaseException)
                    and value.__module__ == name
                ):
                    found[f"{name}.{attr}"] = value
    return found


def outside_the_root(classes: dict[str, type[BaseException]]) -> list[str]:
    """The classes that are Exceptions (so not stop signals) but not RunmodelErrors."""
    return sorted(
        name
        for name, cls in classes.items()
        if issubclass(cls, Exception) and not issubclass(cls, RunmodelError)
    )


CLASSES = exception_classes(runmodel, conformance)


def test_every_exception_of_the_model_and_the_kit_derives_from_the_root() -> None:
    assert len(CLASSES) >= 20  # the enumeration really walked both packages
    assert outside_the_root(CLASSES) == []


def test_the_only_others_are_stop_signals_that_escape_except_exception() -> None:
    signals = {n: c for n, c in CLASSES.items() if not issubclass(c, RunmodelError)}
    assert signals  # the harness's stop signals are among the classes found
    for name, cls in signals.items():
        assert not issubclass(cls, Exception), name


@pytest.mark.parametrize(("name", "base"), sorted(KEPT_BASES.items()))
def test_documented_exceptions_keep_their_standard_base(name: str, base: type) -> None:
    module, attr = name.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), attr)
    assert issubclass(cls, RunmodelError)
    assert issubclass(cls, base)


def test_the_root_is_public_and_catches_a_model_error() -> None:
    assert "RunmodelError" in runmodel.__all__
    with pytest.raises(RunmodelError, match="no_such_trigger"):
        runmodel.RUN.fire("queued", "no_such_trigger")


def test_a_class_outside_the_root_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a package with one stray exception class is caught by it."""
    pkg = tmp_path / "strays"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "inner.py").write_text(
        "from runmodel import RunmodelError\n"
        "class Fine(RunmodelError): pass\n"
        "class Stray(ValueError): pass\n"
        "class Signal(BaseException): pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    strays = importlib.import_module("strays")
    try:
        classes = exception_classes(strays)
        assert sorted(classes) == ["strays.inner.Fine", "strays.inner.Signal", "strays.inner.Stray"]
        assert outside_the_root(classes) == ["strays.inner.Stray"]
    finally:
        for name in [n for n in sys.modules if n == "strays" or n.startswith("strays.")]:
            del sys.modules[name]
