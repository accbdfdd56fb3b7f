"""``make bench``: run every benchmark in turn, each printing its figures and ratios.

Each script measures its own floor in the same run (parsing for the checker, a bare mock
transport for the emulator, the SDK's own share for fuzzing), so the ratios are comparable
across machines. Extra arguments are passed to none; run a script alone for its options.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("bench_check.py", "bench_emulator.py", "bench_fuzz.py")


def main() -> int:
    failed = 0
    for name in SCRIPTS:
        print(f"\n=== {name} ===", flush=True)
        done = subprocess.run([sys.executable, str(HERE / name)], cwd=HERE.parent, check=False)
        failed += done.returncode != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
