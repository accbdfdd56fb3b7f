"""The checker's hot path, compiled: ``make`` builds `MODULES` with mypyc (``tools/compile.py``)
into extension modules beside their sources, which Python then imports instead of them; where no C
compiler is at hand they stay plain Python, with the same behaviour, slower.

A compiled module built before a source changed would run old code in the new one's place: `stale`
names them, the test suite refuses to start on them, and the command line warns.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["GROUP", "MODULES", "compiled", "stale"]

MODULES = (
    "conformance.decode",
    "conformance.readers._bare",
    "conformance.check.engine",
    "conformance.check.fields",
    "conformance.check.moves",
    "conformance.check.state",
    "conformance.check.findings",
    "conformance.check.clock",
    "conformance.check.links",
    "conformance.check.lines",
)
"""The modules compiled, all in one group (they call each other directly)."""

GROUP = "conformance._hot"
"""The group's name: its shared library is the extension module ``conformance._hot__mypyc``."""

_ROOT = Path(__file__).resolve().parent.parent


def _source(module: str) -> Path:
    return _ROOT.joinpath(*module.split(".")).with_suffix(".py")


def _extensions(module: str) -> list[Path]:
    """The extension files built for `module` (any Python version's)."""
    source = _source(module)
    return [p for p in source.parent.glob(f"{source.stem}.*") if p.suffix in (".so", ".pyd")]


def stale() -> list[str]:
    """The compiled modules built before a source of the model or the kit last changed (their
    code, or what they know of the types they import, may be old); empty when none is built."""
    built = [(m, p.stat().st_mtime) for m in MODULES for p in _extensions(m)]
    if not built:
        return []
    newest = max(
        p.stat().st_mtime for d in ("runmodel", "conformance") for p in (_ROOT / d).rglob("*.py")
    )
    return sorted({m for m, t in built if t < newest})


def compiled() -> bool:
    """Whether the checking engine now imported (or to be imported) is the compiled one."""
    module = sys.modules.get("conformance.check.engine")
    if module is None:
        import conformance.check.engine as module
    return not str(getattr(module, "__file__", "")).endswith(".py")
