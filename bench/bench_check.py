"""Benchmark of ``runmodel check`` on a large trace of bare run objects (run on demand).

Generates ≥ 1,000,000 snapshots (realistic ~1 kB run objects, hundreds of runs interleaved,
JSON Lines) in a temporary directory, then measures in one process, against a floor measured in
the same run:

- parse: ``orjson.loads`` of every line (the floor);
- read: `conformance.readers.read` alone (what every check pays);
- check: read + the checking engine with the text report's collector (what users run);
- jsonschema: validating run objects against the OpenAPI ``RunObject`` schema (``$ref``s
  resolved, OpenAPI 3.0 ``nullable`` translated), on a sample, extrapolated to the whole file;
- peak memory (max RSS of a child process that only checks) at 100k and 1M snapshots, and at
  10M with ``--big``: it should stay flat, since state is kept per open run only.

Each of parse, read and check is timed in `--repeat` interleaved rounds and the fastest kept.
Goal: check ≤ 2 × parse. Usage: ``python bench/bench_check.py [--snapshots N] [--big]``.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT.parent / "shared" / "spec" / "openai-openapi.yaml"
T0 = 1_712_030_293
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "calculate_order_total",
            "description": "Compute the total price of an order from item types and quantities",
            "parameters": {
                "type": "object",
                "properties": {
                    "items": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "item_type": {"type": "string", "description": "book, pen, ..."},
                                "quantity": {"type": "integer", "description": "how many"},
                            },
                            "required": ["item_type", "quantity"],
                        },
                    }
                },
                "required": ["items"],
            },
        },
    }
]


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
        "expires_at": None if done else T0 + 600,
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
    if status in ("completed", "incomplete", "failed", "cancelled", "expired"):
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
        yield _run(rid, tid, "cancelling", started=True, t=t)
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
    loads = orjson.loads
    t = time.perf_counter()
    with path.open("rb") as f:
        for line in f:
            loads(line)
    return time.perf_counter() - t


def time_read(path: Path) -> float:
    from conformance.readers import read

    t = time.perf_counter()
    for _ in read(path):
        pass
    return time.perf_counter() - t


def check(path: Path) -> tuple[float, Any]:
    from conformance.check import Checker
    from conformance.readers import read
    from conformance.reports import Report

    t = time.perf_counter()
    checker = Checker(emit=Report(keep_clean=False))
    checker.feed_all(read(path))
    summary = checker.finish()
    return time.perf_counter() - t, summary


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


def peak_memory(path: Path | None) -> int:
    """Max RSS (bytes) of a child process that checks `path` and nothing else (None: that
    only imports what a check imports: the baseline)."""
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "import bench_check\n"
        "import conformance.check, conformance.readers, conformance.reports\n"
        "if sys.argv[1] != '-':\n"
        "    bench_check.check(Path(sys.argv[1]))\n"
        "print(bench_check.high_water())\n"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run(
        [sys.executable, "-c", code, str(path or "-"), str(Path(__file__).parent)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    return int(out.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--snapshots", type=int, default=1_000_000)
    parser.add_argument(
        "--sample", type=int, default=20_000, help="objects for jsonschema (0: skip)"
    )
    parser.add_argument("--spec", type=Path, default=SPEC, help="the OpenAPI spec (YAML)")
    parser.add_argument("--big", action="store_true", help="also 10M snapshots (~10 GB of disk)")
    parser.add_argument("--profile", action="store_true", help="cProfile the check, top 25")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of parse, read and check (fastest kept)"
    )
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))

    with tempfile.TemporaryDirectory(prefix="bench_check_") as tmp:
        path = Path(tmp) / "runs.jsonl"
        t = time.perf_counter()
        lines = generate(path, args.snapshots)
        size = path.stat().st_size
        print(
            f"trace: {lines:,} snapshots, {size / 1e6:,.0f} MB "
            f"({size / lines:,.0f} B/object), generated in {time.perf_counter() - t:.1f} s"
        )

        if args.profile:
            import cProfile
            import pstats

            prof = cProfile.Profile()
            prof.enable()
            check(path)
            prof.disable()
            pstats.Stats(prof).sort_stats("tottime").print_stats(25)
            return 0

        # interleaved rounds, the fastest of each kept: the machine may be shared
        parse = read_s = check_s = float("inf")
        for _ in range(max(1, args.repeat)):
            parse = min(parse, time_parse(path))
            read_s = min(read_s, time_read(path))
            seconds, summary = check(path)
            check_s = min(check_s, seconds)
        per, n, invalid, load = (
            time_jsonschema(path, args.sample, args.spec) if args.sample else (0.0, 0, 0, 0.0)
        )
        schema_total = per * lines

        small = Path(tmp) / "small.jsonl"
        generate(small, lines // 10)
        memory = [(0, peak_memory(None)), (lines // 10, peak_memory(small))]
        memory.append((lines, peak_memory(path)))
        small.unlink()
        if args.big:
            big = Path(tmp) / "big.jsonl"
            big_lines = generate(big, lines * 10)
            memory.append((big_lines, peak_memory(big)))
            big.unlink()

    rate = lines / check_s
    print(
        f"check: {summary.runs:,} runs, {summary.observations:,} observations, "
        f"{summary.errors} errors, {summary.warnings} warnings (the trace is legal: expect 0)"
    )
    print()
    print(f"{'measure':<44}{'seconds':>10}{'× parse':>10}{'µs/object':>11}")
    rows = [
        ("parse every line (orjson.loads): the floor", parse),
        ("read (conformance.readers.read)", read_s),
        ("check (read + engine + report collector)", check_s),
        ("  of which the engine (check − read)", check_s - read_s),
        (f"jsonschema RunObject (sample {n:,}, extrapolated)", schema_total),
    ]
    for name, secs in rows:
        print(f"{name:<44}{secs:>10.2f}{secs / parse:>10.2f}{secs / lines * 1e6:>11.2f}")
    print()
    print(
        f"goal check ≤ 2 × parse: {'met' if check_s <= 2 * parse else 'NOT met'} "
        f"({check_s / parse:.2f} ×); {rate:,.0f} snapshots/s"
    )
    print(
        f"jsonschema: {invalid} of {n:,} sampled objects invalid; spec load {load:.1f} s "
        f"(not counted); check is {schema_total / check_s:.1f} × faster than validating"
    )
    print()
    print(f"{'snapshots':>12}{'peak RSS (MB)':>16}")
    for count, rss in memory:
        what = f"{count:>12,}" if count else f"{'(imports)':>12}"
        print(f"{what}{rss / 1e6:>16.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
