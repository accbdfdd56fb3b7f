"""What one ``runmodel demo`` did, as the session fixture ``demo_run`` (conftest) shares it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEMO_EXAMPLES = 15
"""The lifecycles each of the demo's fuzzing steps tries."""


@dataclass(frozen=True, slots=True)
class DemoRun:
    """One ``runmodel demo``: its exit code, what it printed, and the folder it wrote."""

    code: int
    out: str
    err: str
    folder: Path
