"""A repeated line read as the very object seen before is checked exactly like a fresh parse of
it: the checker's identity shortcut changes nothing but speed."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import orjson

from conformance.check import check
from conformance.observations import Item, Location, Snapshot, TraceInfo
from conformance.readers import read
from tests.helpers import paths

LESSON = paths.LESSON


def _fresh(path: Path) -> list[Item]:
    """What `read` yields, each line parsed on its own (no object shared)."""
    items: list[Item] = [TraceInfo(Location(str(path), 1), "objects-jsonl", 1)]
    for i, line in enumerate(path.read_bytes().splitlines(), 1):
        items.append(Snapshot(Location(str(path), i), len(items), orjson.loads(line)))
    return items


def _events(items: Any) -> list[Any]:
    return [e for e in check(items) if type(e).__name__ != "CheckStarted"]


def test_shared_and_fresh_objects_are_judged_alike(tmp_path: Path) -> None:
    base = [orjson.loads(line) for line in LESSON.read_bytes().splitlines()]
    wrong = dict(base[-1], status="in_progress", usage=None, expires_at=None)  # back, and a rule
    odd = dict(base[0], status="paused")  # unknown to the model
    rng = random.Random(5)
    objs: list[dict[str, Any]] = []
    for obj in [*base, wrong, base[-1], odd, odd, base[0]]:
        objs.extend([obj] * rng.randint(1, 3))
    path = tmp_path / "runs.jsonl"
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in objs))

    read_items = [i for i in read(path) if isinstance(i, Snapshot)]
    shared = sum(a.obj is b.obj for a, b in itertools.pairwise(read_items))
    assert shared > 0  # the reader did share objects
    events = _events(read(path))
    assert events == _events(_fresh(path))
    assert events[-1].summary.errors > 0  # and the trace has findings to compare
