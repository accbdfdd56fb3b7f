"""A checker told which clean runs its report wants (`Checker(wants_clean=Report.wants)`) skips
making the others' results: the report must be the one it would have kept anyway, in every
format, including a failing run whose later, clean part must still be merged into it."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.check import Checker
from conformance.decode import CHECKED
from conformance.readers import read
from conformance.reports import Report, to_json, to_text
from runmodel import Strictness
from tests.conformance.test_decode import _recordings, broken, traces
from tests.helpers.checktrace import run

Wants = Callable[[Report], Callable[[str], bool] | None]


def report_of(paths: list[Path], keep_clean: bool, wants: Wants, **kw: Any) -> Report:
    """The report of checking `paths` as ``runmodel check`` does, the checker told `wants`."""
    report = Report(keep_clean=keep_clean)
    c = Checker(emit=report, wants_clean=wants(report), **kw)
    for path in paths:
        c.feed_all(read(path, shape=CHECKED, repeated=c.repeated, observed=c.observed))
    c.finish()
    return report


def texts(paths: list[Path], keep_clean: bool, wants: Wants, **kw: Any) -> tuple[str, str]:
    r = report_of(paths, keep_clean, wants, **kw)
    return to_text(r, coverage=True), to_json(r)


def told(report: Report) -> Callable[[str], bool]:
    return report.wants


def not_told(report: Report) -> None:
    return None


def never(report: Report) -> Callable[[str], bool]:
    """A careless `wants`: no clean result at all, not even a failing run's later part."""
    return lambda rid: False


def assert_same(paths: list[Path], **kw: Any) -> None:
    for keep_clean in (False, True):
        assert texts(paths, keep_clean, told, **kw) == texts(paths, keep_clean, not_told, **kw)


@settings(max_examples=30, deadline=None)
@given(st.one_of(traces(), broken()), st.sampled_from([1, 256]))
def test_random_traces_report_the_same_when_the_checker_is_told(data: bytes, window: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.jsonl"
        path.write_bytes(data)
        assert_same([path], window=window, strictness=Strictness.PERMISSIVE)


@pytest.mark.parametrize("path", _recordings(), ids=lambda p: p.name)
def test_recordings_report_the_same_when_the_checker_is_told(path: Path) -> None:
    assert_same([path])


def test_a_failing_run_keeps_its_later_clean_part(tmp_path: Path) -> None:
    """run_1 fails (it goes back to queued), is closed when run_2 settles (window 1), then is
    polled again, clean: that part is still merged into its failing result."""
    lines = [
        run("in_progress"),
        run("queued", started=False),
        run("completed"),
        run("completed", rid="run_2", tid="thread_2"),
        run("completed"),
        run("completed"),
    ]
    path = tmp_path / "t.jsonl"
    path.write_bytes(b"".join(orjson.dumps(o) + b"\n" for o in lines))
    reference = report_of([path], False, not_told, window=1)
    assert list(reference.failing) == ["run_1"]
    assert reference.failing["run_1"].observations == 5
    assert texts([path], False, told, window=1) == texts([path], False, not_told, window=1)
    # the careless variant loses the clean part: the test above would catch it
    assert texts([path], False, never, window=1) != texts([path], False, not_told, window=1)


def test_report_wants_what_it_keeps() -> None:
    assert Report(keep_clean=True).wants("run_1")
    assert not Report(keep_clean=False).wants("run_1")
