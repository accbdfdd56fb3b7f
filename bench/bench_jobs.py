"""Benchmark of ``runmodel check --jobs 2`` against ``--jobs 1``, in the same run.

Generates the bench trace of `bench_check` (interleaved runs, JSON Lines) and checks it as the
command line does (a child process each time, so start-up and process spawning are counted):

- many files: `--files` traces of their own runs and threads: whole files go to each process;
- one file: with fewer than `SPLIT_FROM` processes, one process checks it (the split by thread
  costs more than it saves there), so ``--jobs 2`` should take the time of ``--jobs 1``.

The split of one file by thread is measured apart: the CPU time of one process over the file,
of each of N shards of threads (each in a process of its own, one after the other), and of
merging their journals (`--splits`). The busiest shard plus the merge, over the one process, is
the time the split would take on N cores of its own, as a share of one process's: below 1 from
`SPLIT_FROM` processes is what ``--jobs`` splits one file by.

Rounds alternate ``--jobs 1`` and ``--jobs 2`` (`--repeat`, fastest kept); each pair's JSON
reports are compared byte for byte. The CPU time of each command (its processes together, in the
round of its fastest time) is printed too: on cores other jobs use, ``--jobs 2`` cannot have both
and the time ratio says little, while the CPU ratio still shows what the split costs (1: nothing;
2: every process does all the work). Usage: ``python bench/bench_jobs.py [--snapshots N]
[--files N] [--repeat N] [--splits N,N] [--json]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

from _rows import Row, emit, fmt
from bench_check import generate

from conformance.check.shard import Journal, check_shard, numbered_files
from conformance.merge import SPLIT_FROM, MergeError, merge_journals, parallel

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


def _pair(name: str, files: list[Path], repeat: int, where: Path, split: bool = True) -> Row:
    """``--jobs 2`` against ``--jobs 1`` on `files`; `split`: whether ``--jobs 2`` uses two
    processes there (else the goal is the time of ``--jobs 1``, up to the machine's noise)."""
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
        goal="< 1 (speed-up), same report" if split else "≤ 1.1 (one process), same report",
        met=same and (ratio < 1 if split else ratio <= 1.1),
        note=cpu if same else "the reports differ",
    )


def _timed(path: str, shard: int, shards: int) -> tuple[float, Journal]:
    """One shard of `path` checked here (a child process of its own): its CPU seconds and its
    journal, the cycle collector set as a worker sets it."""
    threshold = gc.get_threshold()
    gc.collect()
    gc.set_threshold(max(threshold[0], 100_000), 50, 1000)
    try:
        t = time.process_time()
        journal = check_shard(numbered_files([(0, path)]), shard=shard, shards=shards)
        return time.process_time() - t, journal
    finally:
        gc.set_threshold(*threshold)


def _in_child(path: str, shard: int, shards: int) -> tuple[float, Journal]:
    """`_timed` in a new child process, forked as ``--jobs`` forks its workers (a process that
    checked before would carry its heap and collector state into the figure)."""
    with ProcessPoolExecutor(1, mp_context=get_context("fork")) as pool:
        return pool.submit(_timed, path, shard, shards).result()


def _splits(path: Path, counts: list[int], repeat: int, snapshots: int) -> list[Row]:
    """Rows of the split of one file by thread in each of `counts` shards: the busiest shard's
    CPU seconds and the merge's, against one process's (best of `repeat` rounds each; each
    shard checked in a process of its own, one after the other)."""
    whole = min(_in_child(str(path), 0, 1)[0] for _ in range(repeat))
    rows = []
    for n in counts:
        shard_cpu = [float("inf")] * n
        merge_cpu = float("inf")
        note = ""
        for _ in range(repeat):
            journals: list[Journal] = []
            for k in range(n):
                took, journal = _in_child(str(path), k, n)
                shard_cpu[k] = min(shard_cpu[k], took)
                journals.append(journal)
            gc.collect()
            gc.disable()  # (as `--jobs` merges)
            try:
                t = time.process_time()
                merge_journals(journals)
                merge_cpu = min(merge_cpu, time.process_time() - t)
            except MergeError as exc:
                note = f"the merge refused: {exc}"
            finally:
                gc.enable()
            del journals
        busiest = max(shard_cpu)
        ratio = (busiest + merge_cpu) / whole
        print(
            f"one file in {n} shards of threads: the busiest {fmt(busiest, 's')} CPU, merge "
            f"{fmt(merge_cpu, 's')}, one process {fmt(whole, 's')}: {ratio:.2f} "
            f"({1 / ratio:.2f}x on {n} cores of its own)"
        )
        split = parallel(1, n)
        rows.append(
            Row(
                "checker",
                f"one file in {n} shards of threads, CPU of the busiest + merge, "
                f"{snapshots:,} snapshots",
                busiest + merge_cpu,
                "s",
                against=f"one process ({fmt(whole, 's')} CPU)",
                ratio=ratio,
                goal="< 1: --jobs splits from here" if n == SPLIT_FROM else "",
                met=(not note and ratio < 1) if n == SPLIT_FROM else None,
                note=note
                or (f"--jobs {n} splits one file" if split else f"--jobs {n}: one process"),
            )
        )
    return rows


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
        name = f"one file, {args.snapshots:,} snapshots"
        rows.append(_pair(name, [one], args.repeat, where, split=parallel(1, 2)))
        rows.extend(_splits(one, args.splits, min(args.repeat, 3), args.snapshots))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--snapshots", type=int, default=400_000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument(
        "--repeat", type=int, default=5, help="alternating rounds, the fastest of each kept"
    )
    parser.add_argument(
        "--splits",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[2, SPLIT_FROM, 8],
        help="shard counts of the split of one file measured apart (default 2,4,8)",
    )
    parser.add_argument("--json", action="store_true", help="rows on stdout, report on stderr")
    args = parser.parse_args(argv)
    return emit(args.json, lambda: measure(args))


if __name__ == "__main__":
    sys.exit(main())
