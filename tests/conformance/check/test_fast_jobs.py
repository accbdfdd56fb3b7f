"""``--jobs``: shards that read files take a repeated line's object through the reader's hook
(`conformance.check.shard.FileItems`), and still merge into the report one process writes
with every line parsed whole and fed, position for position."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.check import Checker
from conformance.check.shard import (
    FileItems,
    check_shard,
    item_keys,
    nothing_message,
    numbered_files,
    run_hint,
)
from conformance.merge import MergeError, merge_journals
from conformance.observations import InputProblem, Location, Snapshot, TraceInfo
from conformance.readers import read
from conformance.reports import Report, to_json, to_text
from tests.conformance.check.test_fast_repeats import _back_and_forth
from tests.conformance.test_decode import _recordings, broken, traces


def _one_process(paths: Sequence[Path], window: int) -> tuple[str, str, int]:
    report = Report()
    checker = Checker(emit=report, window=window)
    for path in paths:  # (as the CLI does, a file with nothing to check is unusable)
        checkable, problems = checker.checkable, checker.problems
        items = list(read(path))
        checker.feed_all(items)
        if checker.checkable == checkable:
            if checker.problems == problems:
                counts: dict[str, int] = {}
                fmt = None
                for item in items:
                    if isinstance(item, TraceInfo):
                        fmt = fmt or item.format
                    else:
                        counts[type(item).__name__] = counts.get(type(item).__name__, 0) + 1
                text = nothing_message(counts, fmt)
                checker.feed(InputProblem(Location(str(path)), "input.unusable", text))
            else:
                checker.mark_unusable(str(path))
    summary = checker.finish()
    return to_text(report, coverage=True), to_json(report), summary.exit_code


def _sharded(paths: Sequence[Path], shards: int, window: int) -> tuple[str, str, int] | str:
    """The merged report of `shards` shards split by thread, or why the merge refused."""
    numbered = list(enumerate(str(p) for p in paths))
    journals = [
        check_shard(numbered_files(numbered), shard=s, shards=shards, window=window)
        for s in range(shards)
    ]
    try:
        merged = merge_journals(journals, window=window)
    except MergeError as exc:
        return str(exc)
    report = merged.report()
    assert report.summary is not None
    return to_text(report, coverage=True), to_json(report), report.summary.exit_code


def _by_lists(paths: Sequence[Path], shards: int, window: int) -> tuple[str, str, int] | str:
    """The same with each file's items in a list (no hook: every repeated line yielded)."""
    from conformance.decode import CHECKED

    numbered = [(i, str(p), list(read(p, shape=CHECKED))) for i, p in enumerate(paths)]
    journals = [check_shard(numbered, shard=s, shards=shards, window=window) for s in range(shards)]
    try:
        merged = merge_journals(journals, window=window)
    except MergeError as exc:
        return str(exc)
    report = merged.report()
    assert report.summary is not None
    return to_text(report, coverage=True), to_json(report), report.summary.exit_code


MISREAD = "a line read otherwise than its bytes told"
"""The doubt of a shard whose line, once decoded, is not what the pre-filter read in its bytes."""


def misleading(paths: Sequence[Path]) -> bool:
    """Whether a line of the files has a hint (`run_hint`) other than what the reader decodes
    (as `conformance.readers.read` does: the checker's shape, else parsed whole): not one run
    object, or of another status or other ids named."""
    from conformance.decode import CHECKED

    for path in paths:
        for line in io.BytesIO(path.read_bytes()):
            hint = run_hint(line)
            if hint is None:
                continue
            obj = CHECKED.decode(line)
            if obj is None:
                try:
                    whole = orjson.loads(line)
                except orjson.JSONDecodeError:
                    return True
                if type(whole) is not dict or type(whole.get("status", "")) is not str:
                    return True
                obj = CHECKED.project(whole)
            keys = item_keys(Snapshot(Location(str(path)), None, obj))[0]
            if obj.get("object") != "thread.run" or obj.get("status") != hint[2]:
                return True
            if keys != ["t:" + hint[1], "r:" + hint[0]]:
                return True
    return False


def assert_same(paths: Sequence[Path], shards: int, window: int) -> None:
    """Split by thread, reading files (the reader's pre-filter and hook) and from lists (every
    item decoded and yielded): each merges into the one-process report or refuses; the files
    refuse where the lists merge only for a line whose bytes misled the pre-filter."""
    sharded = _sharded(paths, shards, window)
    lists = _by_lists(paths, shards, window)
    if isinstance(sharded, str):
        assert sharded == lists or (MISREAD in sharded and misleading(paths)), sharded
    else:
        assert not isinstance(lists, str), lists
        assert sharded == lists == _one_process(paths, window)


def _files(tmp: str, datas: Sequence[bytes]) -> list[Path]:
    paths = []
    for i, data in enumerate(datas):
        path = Path(tmp) / f"t{i}.jsonl"
        path.write_bytes(data)
        paths.append(path)
    return paths


@settings(max_examples=25, deadline=None)
@given(st.lists(traces(), min_size=1, max_size=2), st.sampled_from([1, 2, 256]))
def test_random_traces_split_by_thread_merge_the_same(datas: list[bytes], window: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        assert_same(_files(tmp, datas), 2, window)


@settings(max_examples=25, deadline=None)
@given(broken())
def test_broken_traces_split_by_thread_merge_the_same(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        assert_same(_files(tmp, [data]), 2, 2)


def test_real_recordings_split_by_thread_merge_the_same() -> None:
    assert_same(_recordings(), 2, 256)


def test_the_bench_trace_split_by_thread_merges_the_same(tmp_path: Path) -> None:
    import sys

    bench = str(Path(__file__).resolve().parents[3] / "bench")
    sys.path.insert(0, bench)
    try:
        import bench_check
    finally:
        sys.path.remove(bench)
    path = tmp_path / "bench.jsonl"
    bench_check.generate(path, 4000, open_runs=40)
    assert_same([path], 2, 16)
    assert_same([path], 3, 256)


def test_a_file_is_read_with_the_shards_hook() -> None:
    items = FileItems("x.jsonl")
    assert items.repeated is None
    taken: list[Any] = []
    numbered = [(0, "x", _Recorded(taken))]
    check_shard(numbered, shard=0, shards=2)
    assert taken
    assert callable(taken[0])


class _Recorded(FileItems):
    """A `FileItems` that notes the hook it was given and holds nothing."""

    def __init__(self, taken: list[Any]) -> None:
        super().__init__("x")
        self.taken = taken

    def __iter__(self) -> Any:
        self.taken.append(self.repeated)
        return iter(())


def test_a_careless_shard_hook_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """A deliberately wrong hook: it takes its own runs' repeats without asking the engine."""
    from conformance.check import shard

    def careless(self: Any, obj: dict[str, Any]) -> bool:
        hit = self.memo.get(id(obj))
        if hit is None or hit[0] is not obj:
            return False
        self.next += 1
        return True

    with tempfile.TemporaryDirectory() as tmp:
        paths = _files(tmp, [_back_and_forth()])
        assert_same(paths, 2, 256)
        monkeypatch.setattr(shard._Shard, "_repeated", careless)
        with pytest.raises(AssertionError):
            assert_same(paths, 2, 256)
