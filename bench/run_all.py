"""``make bench``: every benchmark in turn, then one table of their figures and ratios.

Each script measures its own floor in the same run (parsing for the checker, a bare mock
transport or a fixed-reply server for the emulator, the SDK's own share for fuzzing), so the
ratios are comparable across machines. ``bench_responses.py`` adds the Responses API's rows to
the checker, emulator and fuzz areas. Each runs as a child with ``--json``: its detailed report
streams to stderr as it goes, its rows come back on stdout. The emulator runs twice: with this
interpreter's SDK, and with ``--sdk2-python`` (openai 2.x, where ``openai-responses`` runs).

Usage: ``python bench/run_all.py [--sdk2-python PATH] [--quick]``; stdout gets only the table,
the machine line and the total time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

from _rows import Row, table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def _run(area: str, python: str, script: str, *args: str) -> tuple[list[Row], bool]:
    """The rows of one script run with `python`, or one row saying why there are none."""
    command = [python, str(HERE / script), "--json", *args]
    what = " ".join([script, *args])
    print(f"\n=== {what} ({python}) ===", file=sys.stderr, flush=True)
    if not Path(python).exists():
        return [Row(area, what, None, "", note=f"no interpreter at {python}")], False
    done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
    try:
        rows = [Row.from_json(r) for r in json.loads(done.stdout)]
    except (ValueError, TypeError):
        rows = []
    if done.returncode != 0 or not rows:
        return [Row(area, what, None, "", note=f"failed (exit {done.returncode})")], False
    return rows, True


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory() -> str:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            kib = int(f.readline().split()[1])
        return f"{kib / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "? GiB"


def _versions(python: str) -> str:
    """The SDK and HTTP library versions of `python`'s environment."""
    code = (
        "from importlib.metadata import version, PackageNotFoundError\n"
        "out = []\n"
        "for d in ('openai', 'httpx', 'httpx2', 'openai-responses'):\n"
        "    try: out.append(f'{d} {version(d)}')\n"
        "    except PackageNotFoundError: pass\n"
        "print(', '.join(out))\n"
    )
    if not Path(python).exists():
        return "none"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "?"


def machine(sdk2: str) -> str:
    """One line: the CPU, cores, memory, Python and SDK versions of this run."""
    cores = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cores
    return (
        f"machine: {_cpu()}, {cores} cores ({usable} usable), {_memory()}, "
        f"{platform.system()} {platform.release()}; Python {platform.python_version()}; "
        f"main: {_versions(sys.executable)}; 2.x: {_versions(sdk2)}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--sdk2-python",
        default=str(ROOT / ".venv-sdk2" / "bin" / "python"),
        metavar="PATH",
        help="an interpreter with openai 2.x and openai-responses (default: .venv-sdk2's)",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    load = os.getloadavg()[0]
    py, py2 = sys.executable, args.sdk2_python
    quick = args.quick
    steps = [
        ("checker", py, "bench_check.py", "--big",
         *(("--snapshots", "100000", "--repeat", "1", "--sample", "2000") if quick else ())),
        ("checker", py, "bench_jobs.py",
         *(("--snapshots", "100000", "--repeat", "1") if quick else ())),
        ("emulator", py, "bench_emulator.py", *(("--quick",) if quick else ())),
        ("emulator", py2, "bench_emulator.py", "--no-serve", *(("--quick",) if quick else ())),
        ("fuzz", py, "bench_fuzz.py", *(("--examples", "40") if quick else ())),
        ("fuzz", py, "bench_fuzz_search.py", *(("--rounds", "2") if quick else ())),
        ("responses", py, "bench_responses.py", *(("--quick",) if quick else ())),
    ]  # fmt: skip
    rows: list[Row] = []
    ok = True
    for area, python, script, *extra in steps:
        got, fine = _run(area, python, script, *extra)
        rows += got
        ok = ok and fine
    order = ("checker", "emulator", "serve", "fuzz")
    rows.sort(key=lambda r: order.index(r.area) if r.area in order else len(order))
    took = time.perf_counter() - started
    command = "make bench" if not quick else "python bench/run_all.py --quick"
    goals = [r.met for r in rows if r.met is not None]
    print(f"\n== make bench: {len(rows)} rows, every ratio against a figure of this same run ==")
    print(table(rows))
    missed = len(goals) - sum(goals)
    print(f"goals: {sum(goals)} met, {missed} missed" + (" (marked NO)" if missed else ""))
    print(machine(py2))
    print(
        f"total: {int(took // 60)} min {took % 60:.0f} s; load average {load:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; command: {command}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
