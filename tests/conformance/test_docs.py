"""docs/violations.md names every code the checker and the readers can report."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [*(ROOT / "conformance" / "check").glob("*.py"),
           *(ROOT / "conformance" / "readers").glob("*.py"),
           ROOT / "conformance" / "trace.py",
           ROOT / "conformance" / "cli" / "check.py"]  # fmt: skip
FAMILIES = r"(?:client|server|stream|status|input)"


def _emitted() -> set[str]:
    codes: set[str] = set()
    for path in SOURCES:
        codes |= set(re.findall(rf'"({FAMILIES}\.[a-z_]+)"', path.read_text(encoding="utf-8")))
    return codes


def test_every_fixed_code_is_documented() -> None:
    doc = (ROOT / "docs" / "violations.md").read_text(encoding="utf-8")
    emitted = _emitted()
    assert len(emitted) > 30  # the scan found the codes, not nothing
    missing = sorted(c for c in emitted if f"`{c}`" not in doc)
    assert missing == [], f"add these codes to docs/violations.md: {missing}"


def test_the_lifecycle_families_are_documented() -> None:
    doc = (ROOT / "docs" / "violations.md").read_text(encoding="utf-8")
    for code in ("illegal_transition", "terminal_left", "moved_without_client", "field.<rule>"):
        assert f"`<lc>.{code}`" in doc
    assert "`run.expiry_not_honoured`" in doc
    assert "`link.<link>`" in doc


def test_the_cli_reference_names_every_command_and_option() -> None:
    import argparse

    from conformance.cli import COMMANDS, build_parser

    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name in COMMANDS:
        assert f"## `runmodel {name}`" in doc, f"docs/cli.md lacks runmodel {name}"
        section = doc.split(f"## `runmodel {name}`", 1)[1].split("\n## ", 1)[0]
        for action in sub.choices[name]._actions:
            for option in action.option_strings:
                assert option in section, f"docs/cli.md: runmodel {name} lacks {option}"
