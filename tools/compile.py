"""Compile the checker's hot modules (`conformance.compiled.MODULES`) with mypyc, in place.

``make`` runs it once the environment is installed: ``python tools/compile.py``. The extension
modules land beside their sources, where Python imports them instead. Where compiling fails (no C
compiler, no Python headers), it removes what it built, says why, and exits 0: runmodel then runs
as plain Python. ``--clean`` only removes the compiled modules.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from conformance.compiled import GROUP, MODULES  # noqa: E402 (after the path is set)


def _built() -> list[Path]:
    """Every extension module in the kit's package: what this script builds (the kit has no
    other), including any a former `MODULES` held."""
    return [p for p in (ROOT / "conformance").rglob("*") if p.suffix in (".so", ".pyd")]


def clean() -> None:
    for path in _built():
        path.unlink()


def build() -> None:
    """Type-check, translate to C and compile the group; the extensions land in the tree."""
    from mypyc.build import mypycify
    from setuptools import Distribution
    from setuptools.command.build_ext import build_ext

    sources = [str(ROOT.joinpath(*m.split(".")).with_suffix(".py")) for m in MODULES]
    os.chdir(ROOT)  # (mypyc names the modules by their paths from here)
    with tempfile.TemporaryDirectory(prefix="runmodel-mypyc-") as tmp:
        # (a cache of its own: `make types` may run mypy beside it, on the project's cache)
        os.environ["MYPY_CACHE_DIR"] = str(Path(tmp) / "cache")
        extensions = mypycify(
            [os.path.relpath(s) for s in sources], opt_level="3", group_name=GROUP, target_dir=tmp
        )
        # (setuptools is not asked to read pyproject.toml: only these extensions are built)
        dist = Distribution({"ext_modules": extensions, "script_name": "tools/compile.py"})
        command = build_ext(dist)
        command.inplace = True
        command.build_temp = str(Path(tmp) / "temp")
        command.build_lib = str(Path(tmp) / "lib")
        command.parallel = os.cpu_count() or 1
        command.ensure_finalized()
        command.run()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="only remove the compiled modules")
    args = parser.parse_args()
    clean()
    if args.clean:
        return 0
    try:
        build()
    except (Exception, SystemExit) as exc:  # a compiler error ends in SystemExit
        clean()
        print(
            f"tools/compile.py: not compiled ({type(exc).__name__}: {exc}); "
            "runmodel runs as plain Python",
            file=sys.stderr,
        )
        return 0
    missing = [m for m in MODULES if not any(m.split(".")[-1] in p.name for p in _built())]
    if missing:
        clean()
        print(f"tools/compile.py: not compiled ({', '.join(missing)} missing)", file=sys.stderr)
        return 0
    print(f"tools/compile.py: compiled {len(MODULES)} modules with mypyc")
    return 0


if __name__ == "__main__":
    sys.exit(main())
