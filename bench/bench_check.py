"""Benchmark of ``runmodel check`` on a large trace of bare run objects.

Generates ≥ 1,000,000 snapshots (realistic ~1.2 kB run objects, hundreds of runs interleaved,
JSON Lines: over 1 GB) in a temporary directory, then measures in one process, against a floor
measured in the same run:

- parse: ``orjson.loads`` of every line (the floor);
- read: `conformance.readers.read` alone, with the checker's shape (`conformance.decode.CHECKED`:
  only the fields the model's rules read), as ``runmodel check`` reads;
- check: read + the checking engine with the text report's collector (what users run: a line
  identical to the one its run's last observation came from is taken by `Checker.repeated`, every
  other object checked in place by `Checker.observed`, no item made; the hot path compiled by
  ``make`` where it could be, and the report says whether it was), on an otherwise idle machine
  and again beside another CPU-bound process (a busy loop), in alternating rounds; and, for
  comparison, the same check with every line parsed whole and fed (no shape, no hooks);
- jsonschema: validating run objects against the OpenAPI ``RunObject`` schema (``$ref``s
  resolved, OpenAPI 3.0 ``nullable`` translated), on a sample, extrapolated to the whole file;
- peak memory (max RSS of a child process that only checks) at 1/10, 1 and, with ``--big``,
  10 times the snapshots (~12 GB of disk): it should stay flat, since state is kept per open
  run only. Each file is deleted as soon as it has been measured.

Each of parse, read and check is timed in `--repeat` interleaved rounds, each round once idle
and once beside the busy loop, and the fastest of each kept. Goal: check ≤ 1 × parse, idle and
beside the other job. Usage: ``python bench/bench_check.py [--snapshots N] [--big] [--json]``
(``--json``: the report on stderr, the rows of ``make bench``'s table on stdout).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
from _rows import Row, emit, fmt

from conformance.lesson import ORDER_TOOL
from runmodel import CANCELLING, EXPIRY_SECONDS, RUN

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "spec" / "openai-openapi.yaml"
T0 = 1_712_030_293
TOOLS = [ORDER_TOOL]


# -- the trace -----------------------------------------------------------------------------------


def _run(rid: str, tid: str, status: str, *, started: bool, t: int, round_: int = 0) -> bytes:
    done = status in ("completed", "incomplete", "failed")
    obj: dict[str, Any] = {
        "id": rid,
        "object": "thread.run",
        "created_at": T0,
        "assistant_id": "asst_aT4hurwd35eSave7qrt2t6eJ",
        "thread_id": tid,
        "status": status,
        "started_at": T0 + 1 if started else None,
        "expires_at": None if done else T0 + EXPIRY_SECONDS,
        "cancelled_at": t if status == "cancelled" else None,
        "failed_at": t if status == "failed" else None,
        "completed_at": t if status in ("completed", "incomplete") else None,
        "required_action": None,
        "last_error": None,
        "model": "gpt-4o-2024-08-06",
        "instructions": "You help customers compute the total price of their shopping cart.",
        "tools": TOOLS,
        "tool_resources": {},
        "metadata": {"session": rid[-6:]},
        "temperature": 1.0,
        "top_p": 1.0,
        "max_completion_tokens": None,
        "max_prompt_tokens": None,
        "truncation_strategy": {"type": "auto", "last_messages": None},
        "incomplete_details": None,
        "usage": None,
        "response_format": "auto",
        "tool_choice": "auto",
        "parallel_tool_calls": True,
    }
    if status == "requires_action":
        call = f"call_{rid[-8:]}{round_:02d}"
        obj["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {
                "tool_calls": [
                    {
                        "id": call,
                        "type": "function",
                        "function": {
                            "name": "calculate_order_total",
                            "arguments": '{"items":[{"item_type":"book","quantity":1}]}',
                        },
                    }
                ]
            },
        }
    if status == "failed":
        obj["last_error"] = {"code": "server_error", "message": "Sorry, something went wrong."}
    if status == "incomplete":
        obj["incomplete_details"] = {"reason": "max_completion_tokens"}
    if status in RUN.terminal:
        obj["usage"] = {"prompt_tokens": 327, "completion_tokens": 340, "total_tokens": 667}
    return orjson.dumps(obj) + b"\n"


def _one_run(rng: random.Random, n: int) -> Iterator[bytes]:
    """The lines a poller records for one run: repeated polls, maybe tool rounds, an end."""
    rid, tid = f"run_{n:020d}", f"thread_{n:020d}"
    t = T0 + 2
    yield _run(rid, tid, "queued", started=False, t=t)
    for round_ in range(rng.choice((0, 0, 0, 1, 1, 2))):
        poll = _run(rid, tid, "in_progress", started=True, t=t)
        for _ in range(rng.randint(1, 6)):
            yield poll
        ra = _run(rid, tid, "requires_action", started=True, t=t, round_=round_)
        for _ in range(rng.randint(1, 2)):
            yield ra
        yield _run(rid, tid, "queued", started=True, t=t)
    poll = _run(rid, tid, "in_progress", started=True, t=t)
    for _ in range(rng.randint(1, 12)):
        yield poll
    t += rng.randint(1, 60)
    end = rng.choices(
        ("completed", "failed", "incomplete", "cancelled", "expired"), (85, 5, 3, 4, 3)
    )[0]
    if end == "cancelled":
        yield _run(rid, tid, CANCELLING, started=True, t=t)
    last = _run(rid, tid, end, started=True, t=t)
    for _ in range(rng.randint(1, 2)):
        yield last


def generate(path: Path, snapshots: int, *, open_runs: int = 400, seed: int = 1) -> int:
    """Write at least `snapshots` lines of interleaved runs; return the line count."""
    rng = random.Random(seed)
    started = 0
    pool = [_one_run(rng, i) for i in range(open_runs)]
    started = open_runs
    lines = 0
    buf: list[bytes] = []
    with path.open("wb") as f:
        while lines < snapshots:
            i = rng.randrange(len(pool))
            line = next(pool[i], None)
            if line is None:
                pool[i] = _one_run(rng, started)
                started += 1
                continue
            buf.append(line)
            lines += 1
            if len(buf) >= 4096:
                f.write(b"".join(buf))
                buf.clear()
        # let every open run finish, so that the trace ends with settled runs
        for gen in pool:
            for line in gen:
                buf.append(line)
                lines += 1
        f.write(b"".join(buf))
    return lines


# -- measurements ------------------------------------------------------------------------------


def time_parse(path: Path) -> float:
    """The floor: `orjson.loads` of every line, read through the same 1 MB buffer as the reader
    (a smaller buffer would make the floor slower and flatter the check's ratio)."""
    loads = orjson.loads
    t = time.perf_counter()
    with path.open("rb", buffering=1 << 20) as f:
        for line in f:
            loads(line)
    return time.perf_counter() - t


def time_read(path: Path) -> float:
    from conformance.decode import CHECKED
    from conformance.readers import read

    t = time.perf_counter()
    for _ in read(path, shape=CHECKED):
        pass
    return time.perf_counter() - t


def check(
    path: Path,
    probe: Callable[[int], None] | None = None,
    *,
    whole: bool = False,
) -> tuple[float, Any]:
    """(seconds, summary) of checking `path` as ``runmodel check`` does; `probe` is told the
    line of every run object checked; `whole`: every line parsed whole and fed (no shape, no
    hooks)."""
    from conformance.check import Checker
    from conformance.decode import CHECKED
    from conformance.readers import read
    from conformance.reports import Report

    t = time.perf_counter()
    report = Report(keep_clean=False)
    checker = Checker(emit=report, wants_clean=report.wants)
    observed = checker.observed
    if probe is not None:

        def observed(obj: dict[str, Any], loc: Any, seq: int) -> bool:
            probe(loc.line)
            return checker.observed(obj, loc, seq)

    items = (
        read(path)
        if whole
        else read(path, shape=CHECKED, repeated=checker.repeated, observed=observed)
    )
    checker.feed_all(items)
    summary = checker.finish()
    return time.perf_counter() - t, summary


# a busy loop that ends with its parent (checked every million turns), should the bench be killed
_BUSY = (
    "import os\n"
    "parent = os.getppid()\n"
    "while os.getppid() == parent:\n"
    "    for _ in range(1_000_000):\n"
    "        pass\n"
)


@contextlib.contextmanager
def busy(on: bool) -> Iterator[None]:
    """Another CPU-bound process (a Python busy loop) running while the block runs, when `on`."""
    if not on:
        yield
        return
    hog = subprocess.Popen([sys.executable, "-c", _BUSY])
    try:
        time.sleep(0.3)  # (started and spinning)
        yield
    finally:
        hog.kill()
        hog.wait()


def _openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 → JSON Schema: ``nullable: true`` becomes an explicit null alternative."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


def time_jsonschema(path: Path, sample: int, spec_path: Path) -> tuple[float, int, int, float]:
    """(seconds per object, objects validated, invalid ones, seconds to load the spec)."""
    import jsonschema
    import yaml
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    t = time.perf_counter()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with spec_path.open("rb") as f:
        spec = yaml.load(f, Loader=loader)
    doc = _openapi_to_jsonschema(spec)
    registry: Registry[Any] = Registry().with_resource(
        "urn:openapi", Resource.from_contents(doc, default_specification=DRAFT202012)
    )
    validator = jsonschema.Draft202012Validator(
        {"$ref": "urn:openapi#/components/schemas/RunObject"}, registry=registry
    )
    load = time.perf_counter() - t
    objs = []
    with path.open("rb") as f:
        for line in f:
            objs.append(orjson.loads(line))
            if len(objs) >= sample:
                break
    invalid = 0
    t = time.perf_counter()
    for obj in objs:
        if not validator.is_valid(obj):
            invalid += 1
    return (time.perf_counter() - t) / len(objs), len(objs), invalid, load


def high_water() -> int:
    """This process's peak resident memory in bytes.

    From ``VmHWM`` (Linux), which belongs to the address space made by ``exec``; not
    ``ru_maxrss``, which survives ``exec`` and so would report the parent's peak at fork time.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kB


def peak_memory(path: Path | None, lines: int = 0) -> tuple[int, int, float, int]:
    """(max RSS in bytes at the end, and half way through, seconds, errors) of a child process
    that checks `path` of `lines` items and nothing else (None: that only imports what a check
    imports: the baseline)."""
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "import bench_check\n"
        "import conformance.check, conformance.readers, conformance.reports\n"
        "half, marks = int(sys.argv[3]) // 2, [0]\n"
        "def probe(line):\n"  # (by line: repeated lines the checker takes are not seen)
        "    if not marks[0] and line >= half:\n"
        "        marks[0] = bench_check.high_water()\n"
        "seconds, errors = 0.0, 0\n"
        "if sys.argv[1] != '-':\n"
        "    seconds, summary = bench_check.check(Path(sys.argv[1]), probe)\n"
        "    errors = summary.errors\n"
        "print(bench_check.high_water(), marks[0], seconds, errors)\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(path or "-"), str(Path(__file__).parent), str(lines)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    rss, half, seconds, errors = out.split()[-4:]
    return int(rss), int(half), float(seconds), int(errors)


def _room(where: Path, need: float) -> str:
    """Why `need` bytes will not fit under `where`, or ''."""
    free = shutil.disk_usage(where).free
    if free >= need:
        return ""
    return f"needs ~{need / 1e9:.1f} GB free in {where}, has {free / 1e9:.1f} GB"


def _generated(path: Path, snapshots: int) -> tuple[int, int]:
    """Generate the trace and say so; (lines, bytes)."""
    t = time.perf_counter()
    lines = generate(path, snapshots)
    size = path.stat().st_size
    print(
        f"trace: {lines:,} snapshots, {size / 1e6:,.0f} MB ({size / lines:,.0f} B/object), "
        f"generated in {time.perf_counter() - t:.1f} s",
        flush=True,
    )
    return lines, size


def _jsonschema_row(path: Path, args: argparse.Namespace, lines: int, check_s: float) -> Row:
    measure = f"jsonschema RunObject validation (sample of {args.sample:,}, extrapolated)"
    if not args.sample:
        return Row("checker", measure, None, "", note="skipped (--sample 0)")
    if not args.spec.is_file():
        return Row("checker", measure, None, "", note=f"no OpenAPI spec at {args.spec}")
    try:
        per, n, invalid, load = time_jsonschema(path, args.sample, args.spec)
    except ImportError as exc:
        return Row("checker", measure, None, "", note=f"{exc} (pip install jsonschema)")
    print(
        f"jsonschema: {invalid} of {n:,} sampled objects invalid; spec load {load:.1f} s "
        f"(not counted); {per * 1e6:.0f} µs/object, {per * lines / check_s:.1f} × the check"
    )
    ratio = per * lines / check_s
    return Row(
        "checker",
        measure,
        1 / per,
        "objects/s",
        f"check {fmt(lines / check_s, 'snapshots/s')}",
        ratio,
        "> 1 (check is faster)",
        ratio > 1,
        note=f"{invalid} of {n:,} sampled objects invalid" if invalid else "",
    )


def measure(args: argparse.Namespace) -> list[Row]:
    """Every measurement of this script, printed as it goes; the rows of the summary table."""
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench_check_") as tmp:
        where = Path(tmp)
        path = where / "runs.jsonl"
        why = _room(where, args.snapshots * 1300)
        if why:
            return [Row("checker", f"check {args.snapshots:,} snapshots", None, "", note=why)]
        lines, size = _generated(path, args.snapshots)
        rows.append(
            Row(
                "checker",
                f"trace: {lines:,} snapshots of ~{size / lines:,.0f} B, JSON Lines",
                size / 1e9,
                "GB",
                goal="≥ 1 GB",
                met=size >= 1e9,
            )
        )

        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            check(path)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            return rows

        # interleaved rounds, each idle and then beside a busy loop, the fastest of each kept
        best: dict[str, float] = {}
        for _ in range(max(1, args.repeat)):
            for state in ("idle", "loaded"):
                with busy(state == "loaded"):
                    for name, timed in (
                        ("parse", lambda: time_parse(path)),
                        ("read", lambda: time_read(path)),
                        ("check", lambda: check(path)[0]),
                        ("whole", lambda: check(path, whole=True)[0]),
                    ):
                        if state == "loaded" and name in ("read", "whole"):
                            continue  # (idle only: the loaded rounds measure the goal)
                        key = f"{name} {state}"
                        best[key] = min(best.get(key, float("inf")), timed())
        _, summary = check(path)
        from conformance.compiled import compiled

        how = "compiled with mypyc" if compiled() else "plain Python (not compiled: make compiled)"
        print(f"the checker's hot path: {how}")
        parse, read_s, check_s = best["parse idle"], best["read idle"], best["check idle"]
        parse_l, check_l, whole = best["parse loaded"], best["check loaded"], best["whole idle"]
        print(
            f"check: {summary.runs:,} runs, {summary.observations:,} observations, "
            f"{summary.errors} errors, {summary.warnings} warnings (the trace is legal: expect 0)"
        )
        print(f"\n{'measure':<52}{'seconds':>10}{'× parse':>10}{'µs/object':>11}")
        for name, secs, floor_s in [
            ("parse every line (orjson.loads): the floor", parse, parse),
            ("read (conformance.readers.read, checker's shape)", read_s, parse),
            ("check (read + engine + report collector)", check_s, parse),
            ("  of which the engine (check − read)", check_s - read_s, parse),
            ("check, every line parsed whole", whole, parse),
            ("beside a busy loop: parse", parse_l, parse_l),
            ("beside a busy loop: check", check_l, parse_l),
        ]:
            print(f"{name:<52}{secs:>10.2f}{secs / floor_s:>10.2f}{secs / lines * 1e6:>11.2f}")
        met, met_l = check_s <= parse, check_l <= parse_l
        print(f"\ngoal check ≤ 1 × parse: idle {'met' if met else 'NOT met'}, ", end="")
        print(f"beside a busy loop {'met' if met_l else 'NOT met'}")
        floor = f"parse (orjson.loads) {fmt(lines / parse, 'snapshots/s')}"
        rounds = f"best of {max(1, args.repeat)}"
        errors = f"{summary.errors} errors in a legal trace; " if summary.errors else ""
        rows.append(
            Row(
                "checker",
                f"check: read + engine + report, idle ({rounds})",
                lines / check_s,
                "snapshots/s",
                floor,
                check_s / parse,
                "≤ 1",
                met,
                note=errors + how,
            )
        )
        rows.append(
            Row(
                "checker",
                f"check beside a CPU-bound process ({rounds})",
                lines / check_l,
                "snapshots/s",
                f"parse (orjson.loads) {fmt(lines / parse_l, 'snapshots/s')}",
                check_l / parse_l,
                "≤ 1",
                met_l,
            )
        )
        rows.append(
            Row(
                "checker",
                f"read alone, checker's shape ({rounds})",
                lines / read_s,
                "snapshots/s",
                floor,
                read_s / parse,
            )
        )
        rows.append(
            Row(
                "checker",
                f"check, every line parsed whole ({rounds})",
                lines / whole,
                "snapshots/s",
                floor,
                whole / parse,
            )
        )
        rows.append(_jsonschema_row(path, args, lines, check_s))

        # peak memory, each file measured by a child that does nothing else, then deleted
        base, _, _, _ = peak_memory(None)
        small = where / "small.jsonl"
        small_lines, small_size = _generated(small, lines // 10)
        small_rss, _, _, _ = peak_memory(small, small_lines)
        small.unlink()
        rss, half, seconds, errors = peak_memory(path, lines)
        path.unlink()
        print(
            f"\n{'snapshots':>12}{'size (GB)':>11}{'peak RSS (MB)':>16}{'half way':>10}"
            f"{'check (s)':>11}"
        )
        print(f"{'(imports)':>12}{'':>11}{base / 1e6:>16.1f}")
        print(f"{small_lines:>12,}{small_size / 1e9:>11.2f}{small_rss / 1e6:>16.1f}")
        print(
            f"{lines:>12,}{size / 1e9:>11.2f}{rss / 1e6:>16.1f}{half / 1e6:>10.1f}{seconds:>11.1f}",
            flush=True,
        )
        rows.append(
            Row(
                "checker",
                f"peak RSS, check of {small_lines:,} snapshots",
                small_rss / 1e6,
                "MB",
                f"imports only {fmt(base / 1e6, 'MB')}",
                small_rss / base,
            )
        )
        rows.append(
            Row(
                "checker",
                f"peak RSS, check of {lines:,} snapshots ({size / 1e9:.2f} GB, {seconds:.0f} s)",
                rss / 1e6,
                "MB",
                f"at {small_lines:,}: {fmt(small_rss / 1e6, 'MB')}",
                rss / small_rss,
                note=f"{errors} errors in a legal trace" if errors else "",
            )
        )
        if args.big:
            rows += _big_rows(where, lines * 10, size * 10, rss, lines / seconds)
    return rows


def _big_rows(where: Path, snapshots: int, estimate: int, rss_1x: int, rate_1x: float) -> list[Row]:
    why = _room(where, estimate * 1.1)
    if why:
        return [Row("checker", f"peak RSS, check of {snapshots:,} snapshots", None, "", note=why)]
    big = where / "big.jsonl"
    big_lines, big_size = _generated(big, snapshots)
    rss, half, seconds, errors = peak_memory(big, big_lines)
    big.unlink()
    print(
        f"{big_lines:>12,}{big_size / 1e9:>11.2f}{rss / 1e6:>16.1f}{half / 1e6:>10.1f}"
        f"{seconds:>11.1f}"
    )
    print(f"  check rate {big_lines / seconds:,.0f} snapshots/s (at 1/10 of it: {rate_1x:,.0f})")
    return [
        Row(
            "checker",
            f"peak RSS, check of {big_lines:,} snapshots "
            f"({big_size / 1e9:.1f} GB, {seconds:.0f} s)",
            rss / 1e6,
            "MB",
            f"at 1/10 of it: {fmt(rss_1x / 1e6, 'MB')}",
            rss / rss_1x,
            "≤ 1.1 (flat)",
            rss <= 1.1 * rss_1x,
            note=f"{errors} errors in a legal trace" if errors else "",
        ),
        Row(
            "checker",
            "  the same check: peak RSS at its end",
            rss / 1e6,
            "MB",
            f"at half way ({big_lines // 2:,}): {fmt(half / 1e6, 'MB')}",
            rss / half,
            "≤ 1.05 (flat)",
            rss <= 1.05 * half,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument(
        "--sample", type=int, default=20_000, help="objects for jsonschema (0: skip)"
    )
    parser.add_argument("--spec", type=Path, default=SPEC, help="the OpenAPI spec (YAML)")
    parser.add_argument(
        "--big", action="store_true", help="also 10 × the snapshots (~12 GB of disk)"
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the check, top 25")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of parse, read and check (fastest kept)"
    )
    parser.add_argument(
        "--json", action="store_true", help="report on stderr, table rows as JSON on stdout"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    return emit(args.json, lambda: measure(args))


if __name__ == "__main__":
    sys.exit(main())
