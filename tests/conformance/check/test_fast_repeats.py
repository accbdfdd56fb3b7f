"""The byte-level fast path for a poll that saw nothing change: a JSON Lines line identical to the
one its run's last observation came from is taken by `Checker.repeated` without a `Snapshot`; and
every other run object of JSON Lines is taken in place by `Checker.observed`, also without one.

It must change nothing but speed: every event (findings, closed runs, the summary with its
counts and coverage) equals that of the same file read with every line parsed whole and fed.
"""

from __future__ import annotations

import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings

from conformance.check import Checker, Event
from conformance.decode import CHECKED
from conformance.observations import Location, Snapshot
from conformance.readers import read
from runmodel import Strictness
from tests.conformance.test_decode import _objects, _recordings, broken, response_traces, traces
from tests.helpers.checktrace import run

ROOT = Path(__file__).resolve().parents[3]


Hooks = Callable[[Checker], tuple[Callable[..., bool], Callable[..., bool]]]
"""The reader's two hooks for a checker (`repeated`, `observed`): the checker's own, or others."""


def own_hooks(c: Checker) -> tuple[Callable[..., bool], Callable[..., bool]]:
    return c.repeated, c.observed


def events(paths: list[Path], *, fast: bool, hooks: Hooks = own_hooks, **kw: Any) -> list[Event]:
    """The events of checking `paths` in one checker: `fast`, as ``runmodel check`` reads (the
    checker's shape and its two hooks); else every line parsed whole and fed."""
    out: list[Event] = []
    c = Checker(emit=out.append, **kw)
    for path in paths:
        if fast:
            repeated, observed = hooks(c)
            c.feed_all(read(path, shape=CHECKED, repeated=repeated, observed=observed))
        else:
            c.feed_all(read(path))
    c.finish()
    return out


def assert_same(data: bytes, tmp: Path, hooks: Hooks = own_hooks, **kw: Any) -> int:
    """Check `data` both ways; the events must be equal. Returns the lines the hook took."""
    path = tmp / "t.jsonl"
    path.write_bytes(data)
    taken = [0]

    def counting(c: Checker) -> tuple[Callable[..., bool], Callable[..., bool]]:
        repeated, observed = hooks(c)

        def count(obj: dict[str, Any]) -> bool:
            took = repeated(obj)
            taken[0] += took
            return took

        return count, observed

    assert events([path], fast=True, hooks=counting, **kw) == events([path], fast=False, **kw)
    return taken[0]


@settings(max_examples=40, deadline=None)
@given(traces())
def test_random_traces_check_the_same_with_the_repeat_hook(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        assert_same(data, Path(tmp))
        assert_same(data, Path(tmp), strictness=Strictness.PERMISSIVE, window=1)


@settings(max_examples=40, deadline=None)
@given(broken())
def test_broken_traces_check_the_same_with_the_repeat_hook(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        assert_same(data, Path(tmp))


@settings(max_examples=40, deadline=None)
@given(response_traces())
def test_random_response_traces_check_the_same_with_the_repeat_hook(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        assert_same(data, Path(tmp))
        assert_same(data, Path(tmp), strictness=Strictness.PERMISSIVE, window=1)


@pytest.mark.parametrize("path", _recordings(), ids=lambda p: p.name)
def test_real_recordings_check_the_same_with_the_repeat_hook(path: Path) -> None:
    assert events([path], fast=True) == events([path], fast=False)


def test_all_real_recordings_in_one_check_the_same_with_the_repeat_hook() -> None:
    paths = _recordings()
    assert events(paths, fast=True) == events(paths, fast=False)


def test_real_objects_polled_again_check_the_same_and_take_the_fast_path(tmp_path: Path) -> None:
    """The real recordings' objects as JSON Lines, each polled a few times over, interleaved."""
    rng = random.Random(7)
    lines: list[bytes] = []
    for o in (o for p in _recordings() for o in _objects(p)):
        lines += [orjson.dumps(o) + b"\n"] * rng.randint(1, 4)
    assert assert_same(b"".join(lines), tmp_path) > len(lines) // 4


def test_the_bench_trace_checks_the_same_and_takes_the_fast_path(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import bench_check
    finally:
        sys.path.remove(str(ROOT / "bench"))
    path = tmp_path / "bench.jsonl"
    lines = bench_check.generate(path, 3000, open_runs=40)
    assert assert_same(path.read_bytes(), tmp_path) > lines // 3


def _back_and_forth() -> bytes:
    """A run polled as A, then B (its id not first: the reader keeps it in another slot), then A
    byte for byte: the third line is the reader's repeat of the first, not of the run's last."""
    a = run("in_progress")
    b = {"status": "queued", **{k: v for k, v in run("queued").items() if k != "status"}}
    return b"".join(orjson.dumps(o) + b"\n" for o in (run("queued"), a, b, a, a))


def test_a_repeat_of_an_older_line_is_fed_as_an_observation(tmp_path: Path) -> None:
    data = _back_and_forth()
    assert assert_same(data, tmp_path) == 1  # (only the last line is the run's last again)


def _careless(c: Checker) -> tuple[Callable[..., bool], Callable[..., bool]]:
    """A deliberately wrong hook: it takes any known run's object, last or not."""

    def repeated(obj: dict[str, Any]) -> bool:
        if obj.get("object") != "thread.run" or c.status_of(obj["id"]) is None:
            return False
        c.items += 1
        return True

    return repeated, c.observed


def test_the_differential_catches_a_hook_that_takes_a_changed_observation(
    tmp_path: Path,
) -> None:
    with pytest.raises(AssertionError):
        assert_same(_back_and_forth(), tmp_path, hooks=_careless)


def test_the_hook_takes_only_what_the_engine_would_only_count() -> None:
    obj = {**run("in_progress"), "id": "run_x"}
    c = Checker(emit=lambda e: None)
    assert not c.repeated(obj)  # an unknown run
    c.feed(Snapshot(Location("t", 1), 1, obj))
    assert c.repeated(obj)
    assert not c.repeated(dict(obj))  # equal, but not the run's last object itself
    assert not c.repeated({**obj, "object": "thread.run.step"})
    c.observe_status(c.run("run_x"), "completed", Location("t", 2), 2)
    assert not c.repeated(obj)  # the status moved since
    assert c.items == 2
    assert c.finish().observations == 2


def _hasty(c: Checker) -> tuple[Callable[..., bool], Callable[..., bool]]:
    """A deliberately wrong hook: it takes a run object in place unjudged once its run is known."""

    def observed(obj: dict[str, Any], loc: Location, seq: int) -> bool:
        if obj.get("object") != "thread.run" or c.status_of(obj["id"]) is None:
            return c.observed(obj, loc, seq)
        c.items += 1
        return True

    return c.repeated, observed


def test_the_differential_catches_a_hook_that_takes_an_observation_unjudged(
    tmp_path: Path,
) -> None:
    data = b"".join(orjson.dumps(run(s)) + b"\n" for s in ("queued", "completed", "queued"))
    assert_same(data, tmp_path)
    with pytest.raises(AssertionError):
        assert_same(data, tmp_path, hooks=_hasty)


def test_the_observed_hook_takes_what_feed_takes() -> None:
    c = Checker(emit=lambda e: None)
    assert c.observed({**run("queued"), "id": "run_x"}, Location("t", 1), 1)
    step = {"id": "step_1", "object": "thread.run.step", "status": "in_progress", "run_id": "run_x"}
    assert c.observed(step, Location("t", 2), 2)
    assert c.items == 2
    assert c.finish().observations == 2
