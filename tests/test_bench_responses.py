"""``bench/bench_responses.py`` at tiny sizes: it runs, gives its three rows, and the responses
trace it generates is legal (a figure measured on a trace full of errors would mean nothing).
No figure is asserted: speed is measured only by ``make bench``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_responses_bench_runs_at_tiny_sizes() -> None:
    done = subprocess.run(
        [sys.executable, "bench/bench_responses.py", "--quick", "--json", "--snapshots", "500"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert [r["area"] for r in rows] == ["emulator", "checker", "fuzz"]
    assert all(r["value"] > 0 and r["ratio"] > 0 and r["against"] for r in rows), rows
    assert [r["note"] for r in rows] == ["", "", ""]  # no error in the generated trace
    assert "0 errors, 0 warnings" in done.stderr
