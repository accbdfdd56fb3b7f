"""Bare-object JSON Lines: a line repeated byte for byte is not parsed again, and yields exactly
what parsing it would (same object, location and numbering)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson

from conformance.observations import InputProblem, Location, Snapshot
from conformance.readers import SHOWN, read


def _run(rid: str, status: str, tail: str = "") -> dict[str, Any]:
    return {"id": rid, "object": "thread.run", "status": status, "note": "x" * 80 + tail}


def test_repeated_lines_yield_what_parsing_each_line_yields(tmp_path: Path) -> None:
    rng = random.Random(7)
    pool = [
        _run("run_a", "queued"),
        _run("run_a", "in_progress"),
        _run("run_a", "in_progress", "changed after the first 64 bytes"),
        _run("run_b", "in_progress"),
        {"object": "thread.run", "status": "queued"},  # no id: a problem, never reused
        [1, 2],
    ]
    lines = [orjson.dumps(rng.choice(pool)) for _ in range(3000)]
    lines[10:10] = [b"{not json", b"   ", lines[9]]
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")

    items = list(read(path))[1:]
    expected: list[tuple[Location, Any]] = []
    for i, line in enumerate(lines, 1):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if type(obj) is dict and type(obj.get("id")) is str:
            expected.append((Location(str(path), i), obj))
    snapshots = [item for item in items if isinstance(item, Snapshot)]
    assert [(s.loc, s.obj) for s in snapshots] == expected
    assert [s.seq for s in snapshots] == list(range(1, len(snapshots) + 1))
    assert {type(s.loc) for s in snapshots} == {Location}
    problems = [item for item in items if isinstance(item, InputProblem)]
    assert len(items) - len(snapshots) == len(problems)
    floods = [lines.count(orjson.dumps(pool[4])), lines.count(orjson.dumps(pool[5]))]
    assert min(floods) > SHOWN
    # each flood: the first SHOWN problems, then one summary; and the malformed line
    assert len(problems) == 2 * (SHOWN + 1) + 1
    summaries = sorted(
        p.message.split(" more like")[0] for p in problems if " in all)" in p.message
    )
    assert summaries == sorted(f"{n - SHOWN:,}" for n in floods)


def test_lines_sharing_a_long_prefix_are_told_apart(tmp_path: Path) -> None:
    a, b = _run("run_a", "in_progress", "1"), _run("run_a", "in_progress", "2")
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(o) for o in (a, b, a, a, b)) + b"\n")
    objs = [item.obj for item in read(path) if isinstance(item, Snapshot)]
    assert objs == [a, b, a, a, b]
    assert objs[2] is objs[3]


def test_more_open_objects_than_slots_are_still_read_exactly(tmp_path: Path) -> None:
    rng = random.Random(3)
    runs = [_run(f"run_{i:05d}", "in_progress") for i in range(1500)]  # more than the slots
    order = [rng.randrange(len(runs)) for _ in range(6000)]
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b"".join(orjson.dumps(runs[i]) + b"\n" for i in order))
    objs = [item.obj for item in read(path) if isinstance(item, Snapshot)]
    assert objs == [runs[i] for i in order]
    # a line repeated right away is the very object
    assert all(objs[k] is objs[k - 1] for k in range(1, len(order)) if order[k] == order[k - 1])


def test_long_lines_are_parsed_every_time(tmp_path: Path) -> None:
    long = _run("run_a", "in_progress", "y" * 20_000)
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(o) for o in (long, long)) + b"\n")
    objs = [item.obj for item in read(path) if isinstance(item, Snapshot)]
    assert objs == [long, long]
    assert objs[0] is not objs[1]  # nothing that large is kept
