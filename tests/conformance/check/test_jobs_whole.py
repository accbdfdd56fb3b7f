"""``--jobs`` over many files: a shard of whole files takes each new run object in place through
the reader's hook (`conformance.check.shard.FileItems`, ``observed``) and still merges into the
report one process writes; the ids its run objects name still reach the merge's refusal of
files that share a thread or a run."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.check.shard import FileItems, Journal, check_shard, numbered_files
from conformance.merge import MergeError, merge_journals
from conformance.observations import Location
from conformance.reports import to_json, to_text
from tests.conformance.check.test_fast_jobs import _files, _one_process
from tests.conformance.test_decode import _recordings, broken, traces


def _journals(paths: Sequence[Path], cut: int, window: int) -> list[Journal]:
    """The journals of two shards of whole files: the first `cut` files, and the others."""
    numbered = list(enumerate(str(p) for p in paths))
    blocks = [b for b in (numbered[:cut], numbered[cut:]) if b]
    return [check_shard(numbered_files(b), window=window) for b in blocks]


def _by_files(paths: Sequence[Path], cut: int, window: int) -> tuple[str, str, int] | str:
    """The merged report of those shards, or why the merge refused."""
    try:
        merged = merge_journals(_journals(paths, cut, window), window=window)
    except MergeError as exc:
        return str(exc)
    report = merged.report()
    assert report.summary is not None
    return to_text(report, coverage=True), to_json(report), report.summary.exit_code


def assert_same(paths: Sequence[Path], cut: int, window: int) -> None:
    """Merged, the shards' report is the one process's; refused, only for ids the blocks share.
    Every journal's positions grow as its files' items do (what the merge's order rests on)."""
    for journal in _journals(paths, cut, window):
        positions = [p for p, _, _ in journal.events]
        assert positions == sorted(positions)
    got = _by_files(paths, cut, window)
    if isinstance(got, str):
        assert "shards share" in got, got
    else:
        assert got == _one_process(paths, window)


def _own(data: bytes, n: int) -> bytes:
    """A trace whose runs, threads, steps and messages are file `n`'s own."""
    for prefix in (b'"run_', b'"thread_', b'"step_', b'"msg_'):
        data = data.replace(b":" + prefix, b":" + prefix[:-1] + b"_f%d_" % n)
    return data


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(traces(), st.booleans()), min_size=2, max_size=3),
    st.sampled_from([1, 2, 256]),
    st.data(),
)
def test_random_files_split_whole_merge_the_same(
    datas: list[tuple[bytes, bool]], window: int, data: st.DataObject
) -> None:
    """Files of their own ids (merged) or not (refused where the blocks share one)."""
    cut = data.draw(st.integers(1, len(datas) - 1))
    with tempfile.TemporaryDirectory() as tmp:
        paths = _files(tmp, [_own(d, n) if own else d for n, (d, own) in enumerate(datas)])
        assert_same(paths, cut, window)


@settings(max_examples=25, deadline=None)
@given(st.lists(broken(), min_size=2, max_size=3))
def test_broken_files_split_whole_merge_the_same(datas: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        assert_same(_files(tmp, datas), 1, 2)


def test_real_recordings_split_whole_merge_the_same() -> None:
    paths = _recordings()
    for cut in (1, len(paths) // 2):
        assert_same(paths, cut, 256)


def test_the_bench_files_split_whole_merge_the_same(tmp_path: Path) -> None:
    """Files of their own runs and threads (as the bench's), with a window that closes runs in
    every file: merged, not refused, and the one process's report."""
    import sys

    bench = str(Path(__file__).resolve().parents[3] / "bench")
    sys.path.insert(0, bench)
    try:
        import bench_jobs
    finally:
        sys.path.remove(bench)
    paths = []
    for n in range(3):
        path = tmp_path / f"part{n}.jsonl"
        bench_jobs._own_ids(tmp_path / "tmp.jsonl", path, 1500, n)
        paths.append(path)
    assert b'"thread_id":"thread_p1_' in paths[1].read_bytes()
    for window in (16, 256):
        got = _by_files(paths, 2, window)
        assert not isinstance(got, str), got
        assert got == _one_process(paths, window)


def _run(rid: str, tid: str, status: str) -> bytes:
    obj = {"id": rid, "object": "thread.run", "thread_id": tid, "status": status}
    return orjson.dumps(obj) + b"\n"


SHARED_RUN = [  # one run polled in both files
    _run("run_a", "thread_a", "queued"),
    _run("run_a", "thread_a", "completed") + _run("run_b", "thread_b", "completed"),
]
SHARED_THREAD = [  # a run of the second file moves to the first file's thread (its run over)
    _run("run_a", "thread_a", "completed"),
    _run("run_b", "thread_b", "queued") + _run("run_b", "thread_a", "completed"),
]


@pytest.mark.parametrize("datas", [SHARED_RUN, SHARED_THREAD], ids=["run", "thread"])
def test_files_that_share_an_id_are_refused(datas: list[bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        got = _by_files(_files(tmp, datas), 1, 256)
    assert isinstance(got, str)
    assert "shards share" in got


def _keys_once(self: Any, obj: dict[str, Any], loc: Location, seq: int) -> bool:
    """A deliberately wrong hook: a run's ids noted at its first object only (its thread, as
    first named, and itself), so a run that names another thread later goes unseen."""
    if obj.get("object") != "thread.run":
        return False
    if obj["id"] not in self.runs:
        self.runs.add(obj["id"])
        self.threads.add(obj["thread_id"])
    self.counts = None
    return bool(self.checker.observed(obj, loc, seq))


def _no_keys(self: Any, obj: dict[str, Any], loc: Location, seq: int) -> bool:
    """A deliberately wrong hook: the run checked in place, its ids not noted at all."""
    if obj.get("object") != "thread.run":
        return False
    self.counts = None
    return bool(self.checker.observed(obj, loc, seq))


@pytest.mark.parametrize(
    ("careless", "datas"),
    [(_no_keys, SHARED_RUN), (_no_keys, SHARED_THREAD), (_keys_once, SHARED_THREAD)],
    ids=["no-keys-run", "no-keys-thread", "keys-once-thread"],
)
def test_a_hook_that_misses_ids_is_caught(
    monkeypatch: pytest.MonkeyPatch, careless: Any, datas: list[bytes]
) -> None:
    from conformance.check import shard

    monkeypatch.setattr(shard._Shard, "_observed", careless)
    with pytest.raises(AssertionError):
        test_files_that_share_an_id_are_refused(datas)


def test_a_file_is_read_with_the_shards_hooks() -> None:
    taken: list[Any] = []
    check_shard([(0, "x", _Recorded(taken))])
    assert [callable(h) for h in taken] == [True, True, False]
    taken.clear()
    check_shard([(0, "x", _Recorded(taken))], shard=0, shards=2)
    assert [callable(h) for h in taken] == [True, True, True]
    assert FileItems("x.jsonl").observed is None


class _Recorded(FileItems):
    """A `FileItems` that notes the hooks it was given and holds nothing."""

    def __init__(self, taken: list[Any]) -> None:
        super().__init__("x")
        self.taken = taken

    def __iter__(self) -> Any:
        self.taken.extend((self.repeated, self.observed, self.select))
        return iter(())


@pytest.mark.parametrize("shards", [1, 2])
def test_a_journal_travels_back_from_a_worker_equal(shards: int) -> None:
    """A worker's journal, pickled compact, comes back equal: runs with and without findings,
    levels and none, findings of their own, edges needed, unusable files."""
    import pickle

    numbered = list(enumerate(map(str, _recordings())))
    kinds: set[str] = set()
    runs = []
    for shard in range(shards):
        journal = check_shard(numbered_files(numbered), shard=shard, shards=shards)
        journal.events += [((9, 1), "need", "run: queued -> x"), ((9, 2), "unusable", "x")]
        kinds.update(kind for _, kind, _ in journal.events)
        runs += [p for _, kind, p in journal.events if kind == "run"]
        back = pickle.loads(pickle.dumps(journal))
        assert back == journal
        assert back.events == journal.events
    assert kinds == {"open", "settle", "run", "other", "need", "unusable"}
    assert any(r.violations for r in runs)
    assert {r.level for r in runs} > {None}
