"""Benchmark of ``runmodel check --jobs 2`` against ``--jobs 1``, in the same run.

Generates the bench trace of `bench_check` (interleaved runs, JSON Lines) and checks it as the
command line does (a child process each time, so start-up and process spawning are counted):

- many files: `--files` traces of their own runs and threads: whole files go to each process;
- one file: every process reads the file and checks the threads hashed to it.

Rounds alternate ``--jobs 1`` and ``--jobs 2`` (`--repeat`, fastest kept); each pair's JSON
reports are compared byte for byte. The CPU time of each command (its processes together, in the
round of its fastest time) is printed too: on cores other jobs use, ``--jobs 2`` cannot have both
and the time ratio says little, while the CPU ratio still shows what the split costs (1: nothing;
2: every process does all the work). Usage: ``python bench/bench_jobs.py [--snapshots N]
[--files N] [--repeat N] [--json]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _rows import Row, emit, fmt
from bench_check import generate

RUNMODEL = str(Path(sys.executable).with_name("runmodel"))


def _cpu() -> float:
    """CPU seconds of the child processes waited for so far (theirs and their children's)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _check(jobs: int, files: list[Path], out: Path) -> tuple[float, float]:
    """Seconds ``runmodel check --format json --jobs N`` took, and the CPU seconds its processes
    used; its report goes to `out`."""
    cmd = [RUNMODEL, "check", "--format", "json", "--jobs", str(jobs), "-o", str(out)]
    cpu = _cpu()
    t = time.perf_counter()
    done = subprocess.run([*cmd, *map(str, files)], stderr=subprocess.PIPE, text=True, check=False)
    took = time.perf_counter() - t
    if done.returncode not in (0, 1) or done.stderr:
        raise RuntimeError(f"{' '.join(cmd)}: exit {done.returncode}: {done.stderr.strip()}")
    return took, _cpu() - cpu


def _own_ids(tmp: Path, path: Path, snapshots: int, n: int) -> None:
    """A bench trace whose run and thread ids are its own (``run_p<n>_…``): values only, so
    that every run still names its thread (``"thread_id":"thread_p<n>_…"``)."""
    generate(tmp, snapshots, seed=n + 1)
    with tmp.open("rb") as src, path.open("wb") as dst:
        for line in src:
            dst.write(
                line.replace(b':"run_', b':"run_p%d_' % n).replace(
                    b':"thread_', b':"thread_p%d_' % n
                )
            )
    tmp.unlink()


def _pair(name: str, files: list[Path], repeat: int, where: Path) -> Row:
    best = {1: (float("inf"), 0.0), 2: (float("inf"), 0.0)}
    same = True
    for _ in range(repeat):
        for jobs in (1, 2):
            best[jobs] = min(best[jobs], _check(jobs, files, where / f"jobs{jobs}.json"))
        same = same and (where / "jobs1.json").read_bytes() == (where / "jobs2.json").read_bytes()
    ratio = best[2][0] / best[1][0]
    cpu = (
        f"CPU {fmt(best[2][1], 's')} against {fmt(best[1][1], 's')} ({best[2][1] / best[1][1]:.2f})"
    )
    print(
        f"{name}: --jobs 1 {fmt(best[1][0], 's')}, --jobs 2 {fmt(best[2][0], 's')}: speed-up "
        f"{1 / ratio:.2f}x; {cpu}; load {os.getloadavg()[0]:.1f}; "
        f"reports {'identical' if same else 'DIFFER'}"
    )
    return Row(
        "checker",
        f"--jobs 2, {name}",
        best[2][0],
        "s",
        against=f"--jobs 1 ({fmt(best[1][0], 's')})",
        ratio=ratio,
        goal="< 1 (speed-up), same report",
        met=same and ratio < 1,
        note=cpu if same else "the reports differ",
    )


def measure(args: argparse.Namespace) -> list[Row]:
    print(f"cores: {os.cpu_count()}; {args.snapshots:,} snapshots")
    with tempfile.TemporaryDirectory(prefix="bench-jobs-") as tmp:
        where = Path(tmp)
        per_file = args.snapshots // args.files
        many = []
        for n in range(args.files):
            path = where / f"part{n}.jsonl"
            _own_ids(where / "tmp.jsonl", path, per_file, n)
            many.append(path)
        rows = [
            _pair(f"{args.files} files, {args.snapshots:,} snapshots", many, args.repeat, where)
        ]
        for path in many:
            path.unlink()
        one = where / "one.jsonl"
        generate(one, args.snapshots)
        rows.append(_pair(f"one file, {args.snapshots:,} snapshots", [one], args.repeat, where))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--snapshots", type=int, default=400_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument(
        "--repeat", type=int, default=5, help="alternating rounds, the fastest of each kept"
    )
    parser.add_argument("--json", action="store_true", help="rows on stdout, report on stderr")
    args = parser.parse_args(argv)
    return emit(args.json, lambda: measure(args))


if __name__ == "__main__":
    sys.exit(main())
