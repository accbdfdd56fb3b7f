"""``runmodel check --jobs N`` and ``--merge``: shards checked apart merge into the very report one
process writes (text, JSON, JUnit, exit code), on drawn traces and on real recordings; where
shards might differ from one process, the merge refuses rather than report something else."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conformance.check import Checker, RunChecked
from conformance.check.shard import check_shard, nothing_message
from conformance.merge import MergeError, merge_journals
from conformance.observations import InputProblem, Item, Location
from conformance.reports import Report, to_json, to_junit, to_text
from runmodel import MESSAGE, RUN, STEP, Strictness
from runmodel.cli import main
from tests.helpers.checktrace import T0, Trace, message, run, step
from tests.helpers.paths import needs_real

ROOT = Path(__file__).resolve().parents[3]
REAL = ROOT.parent / "shared" / "recordings" / "real"
FIXTURES = ROOT / "tests" / "fixtures"


def _real() -> list[str]:
    files = (
        sorted(str(p) for p in REAL.iterdir() if p.name != "SOURCES.md") if REAL.is_dir() else []
    )
    files += sorted(str(p) for p in (FIXTURES / "traces").iterdir())
    return [*files, str(FIXTURES / "lesson_runs.jsonl")]


# -- one process, as the CLI checks, for in-memory files ------------------------------------


def _one_process(files: Sequence[tuple[str, list[Item]]], window: int) -> Report:
    report = Report()
    checker = Checker(emit=report, window=window)
    for path, items in files:
        checkable, problems = checker.checkable, checker.problems
        checker.feed_all(items)
        if checker.checkable == checkable:
            if checker.problems == problems:
                counts: dict[str, int] = {}
                for item in items:
                    counts[type(item).__name__] = counts.get(type(item).__name__, 0) + 1
                text = nothing_message(counts, None)
                checker.feed(InputProblem(Location(path), "input.unusable", text))
            else:
                checker.mark_unusable(path)
    checker.finish()
    return report


def _sharded(files: Sequence[tuple[str, list[Item]]], shards: int, window: int) -> Report:
    numbered = [(i, path, items) for i, (path, items) in enumerate(files)]
    journals = [check_shard(numbered, shard=s, shards=shards, window=window) for s in range(shards)]
    return merge_journals(journals, window=window).report()


def _by_files(files: Sequence[tuple[str, list[Item]]], cut: int, window: int) -> Report:
    numbered = [(i, path, items) for i, (path, items) in enumerate(files)]
    blocks = [numbered[:cut], numbered[cut:]]
    journals = [check_shard(b, window=window) for b in blocks if b]
    return merge_journals(journals, window=window).report()


def _rendered(report: Report) -> tuple[str, str, str, int]:
    assert report.summary is not None
    return (
        to_text(report, coverage=True),
        to_json(report),
        to_junit(report),
        report.summary.exit_code,
    )


# -- drawn traces ----------------------------------------------------------------------------


@st.composite
def traces(draw: st.DrawFn) -> list[tuple[str, list[Item]]]:
    """A few files of interleaved runs on a few threads: statuses in any order (legal or not),
    steps and messages, the client's requests, streams, late re-polls, input problems."""
    threads = [f"thread_{i}" for i in range(draw(st.integers(1, 3)))]
    n_runs = draw(st.integers(1, 6))
    plans: list[list[tuple[str, object]]] = []
    for r in range(n_runs):
        rid, tid = f"run_{r}", draw(st.sampled_from(threads))
        statuses = draw(st.lists(st.sampled_from(RUN.statuses), min_size=1, max_size=5))
        plan: list[tuple[str, object]] = [("snap", run(s, rid=rid, tid=tid)) for s in statuses]
        if draw(st.booleans()):
            sid = f"step_{r}"
            for s in draw(st.lists(st.sampled_from(STEP.statuses), min_size=1, max_size=2)):
                at = draw(st.integers(0, len(plan)))
                plan.insert(at, ("snap", step(s, sid=sid, rid=rid, thread_id=tid)))
        if draw(st.booleans()):
            s = draw(st.sampled_from((None, *MESSAGE.statuses)))
            msg = message(s, mid=f"msg_{r}", run_id=rid, thread_id=tid)
            plan.insert(draw(st.integers(0, len(plan))), ("snap", msg))
        for _ in range(draw(st.integers(0, 2))):
            action = draw(st.sampled_from(("create", "submit", "cancel", "message", "stream")))
            plan.insert(draw(st.integers(0, len(plan))), (action, (rid, tid)))
        if draw(st.booleans()):  # a late re-poll of the last object
            plan.append(("late", plan[-1][1]))
        plans.append(plan)
    order = draw(st.permutations([r for r, p in enumerate(plans) for _ in p]))
    late: list[object] = []
    trace = Trace("a.jsonl")
    cursor = [0] * n_runs
    for r in order:
        kind, what = plans[r][cursor[r]]
        cursor[r] += 1
        _item(trace, kind, what, late)
    for obj in late:
        trace.snap(obj)  # type: ignore[arg-type]
    if draw(st.booleans()):
        trace.problem("input.bad_entry", "a line that is not an object")
    items = trace.items
    cuts = sorted(draw(st.lists(st.integers(0, len(items)), max_size=2)))
    files, start = [], 0
    for n, cut in enumerate([*cuts, len(items)]):
        files.append((f"f{n}.jsonl", items[start:cut]))
        start = cut
    return files


def _item(trace: Trace, kind: str, what: object, late: list[object]) -> None:
    if kind == "snap":
        trace.snap(what, wall=T0 + 5)  # type: ignore[arg-type]
        return
    if kind == "late":
        late.append(what)
        return
    rid, tid = what  # type: ignore[misc]
    if kind == "create":
        trace.http("POST", f"/threads/{tid}/runs", run("queued", rid=rid, tid=tid, started=False))
    elif kind == "submit":
        path = f"/threads/{tid}/runs/{rid}/submit_tool_outputs"
        trace.http("POST", path, run("queued", rid=rid, tid=tid), request={"tool_outputs": []})
    elif kind == "cancel":
        trace.http("POST", f"/threads/{tid}/runs/{rid}/cancel", run("cancelling", rid=rid, tid=tid))
    elif kind == "message":
        trace.http("POST", f"/threads/{tid}/messages", message(None, thread_id=tid))
    else:
        ex = trace.http("POST", f"/threads/{tid}/runs", streamed=True)
        trace.event("thread.run.created", run("queued", rid=rid, tid=tid, started=False), ex)
        trace.done(ex)


@settings(max_examples=150, deadline=None)
@given(files=traces(), shards=st.integers(2, 3), window=st.sampled_from((1, 2, 256)))
def test_shards_by_thread_merge_into_the_one_process_report(
    files: list[tuple[str, list[Item]]], shards: int, window: int
) -> None:
    expected = _rendered(_one_process(files, window))
    try:
        got = _rendered(_sharded(files, shards, window))
    except MergeError:
        return  # the shards might differ: --jobs checks in one process instead
    assert got == expected


@settings(max_examples=100, deadline=None)
@given(files=traces(), window=st.sampled_from((1, 2, 256)), data=st.data())
def test_shards_by_file_merge_into_the_one_process_report(
    files: list[tuple[str, list[Item]]], window: int, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(files)))
    expected = _rendered(_one_process(files, window))
    try:
        got = _rendered(_by_files(files, cut, window))
    except MergeError:
        return
    assert got == expected


def _interleaved(n: int, repoll: bool) -> list[tuple[str, list[Item]]]:
    """`n` runs on their own threads, each queued, in progress, completed; with `repoll`, run 0
    is polled again at the end (after a window of 2 closed it)."""
    t = Trace("one.jsonl")
    for s in ("queued", "in_progress", "completed"):
        for r in range(n):
            t.snap(run(s, rid=f"run_{r}", tid=f"thread_{r}", started=s != "queued"))
    if repoll:
        t.snap(run("completed", rid="run_0", tid="thread_0"))
    return [("one.jsonl", t.items)]


@pytest.mark.parametrize("repoll", [False, True])
def test_a_window_of_settled_runs_is_replayed_exactly_not_refused(repoll: bool) -> None:
    """The shards close their runs where one process would, even when a run comes back after
    the window closed it: merged, not refused (the drawn tests could pass by refusing)."""
    files = _interleaved(8, repoll)
    assert _rendered(_sharded(files, 2, 2)) == _rendered(_one_process(files, 2))
    assert _rendered(_sharded(files, 3, 2)) == _rendered(_one_process(files, 2))


def test_shard_reports_put_side_by_side_are_not_the_one_process_report() -> None:
    """What the replay is for: each shard's own report, concatenated, lists the runs in
    another order than one process (so the equality the tests assert can fail)."""
    files = _interleaved(8, False)
    numbered = [(0, "one.jsonl", files[0][1])]
    side_by_side = Report()
    for s in (1, 0):
        for _, kind, payload in check_shard(numbered, shard=s, shards=2, window=2).events:
            if kind == "run":
                side_by_side(RunChecked(payload))
    merged = _sharded(files, 2, 2)
    assert [r.run_id for r in merged.runs()] == [r.run_id for r in _one_process(files, 2).runs()]
    assert [r.run_id for r in side_by_side.runs()] != [r.run_id for r in merged.runs()]


def test_a_split_that_parts_a_run_is_refused_not_merged_wrong() -> None:
    """A plain split in two (the first and second half of the items) parts each run; merged
    as is it would miss the illegal move that only both halves show, so the merge refuses."""
    t = Trace("one.jsonl")
    t.snap(run("completed", rid="run_1"))
    t.snap(run("in_progress", rid="run_1"))  # leaves a terminal status
    whole = [("one.jsonl", t.items)]
    halves = [(0, "one.jsonl", t.items[:1]), (1, "one.jsonl", t.items[1:])]
    alone = [check_shard([h]) for h in halves]
    one = _one_process(whole, 256)
    assert any(v.code == "run.terminal_left" for r in one.failing.values() for v in r.violations)
    with pytest.raises(MergeError, match="share"):
        merge_journals(alone)


def test_shards_checked_at_different_levels_are_refused() -> None:
    items = _interleaved(2, False)[0][1]
    a = check_shard([(0, "a", items)])
    b = check_shard([(1, "b", items)], strictness=Strictness.PERMISSIVE)
    with pytest.raises(MergeError, match="strictness"):
        merge_journals([a, b])


# -- the command line, on real recordings ------------------------------------------------------


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def split_from_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Split files by thread from 2 processes (a test's few processes, each cheap to start)."""
    from conformance import merge

    monkeypatch.setattr(merge, "SPLIT_FROM", 2)


@pytest.mark.parametrize(("fmt", "jobs"), [("json", "3"), ("text", "2"), ("junit", "2")])
def test_jobs_on_real_recordings_write_the_one_process_report(
    capsys: pytest.CaptureFixture[str], fmt: str, jobs: str, split_from_2: None
) -> None:
    files = _real()
    one = _cli(capsys, "--format", fmt, "--coverage", *files)
    assert one[0] in (0, 1)
    # (the fixtures record one lifecycle in many formats, with the same ids: whole files in
    # blocks would share threads, so every process reads every file and checks its threads)
    assert _cli(capsys, "--format", fmt, "--coverage", "--jobs", jobs, *files) == one
    real = [f for f in files if f.startswith(str(REAL))]  # these share no thread: by file
    assert _cli(capsys, "--format", fmt, "--jobs", jobs, *real) == _cli(
        capsys, "--format", fmt, *real
    )


def test_below_split_from_files_sharing_threads_are_checked_in_one_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Blocks of files that share threads are refused; with fewer than `SPLIT_FROM` processes
    the split by thread is not tried (it would cost more than it saves): one process checks,
    with the note on stderr, and writes the same report."""
    from conformance import merge

    shards: list[int] = []
    check = merge.check_shard

    def counted(*args: Any, **kwargs: Any) -> Any:
        shards.append(kwargs["shards"])  # (this process's own shard: the workers' are forked)
        return check(*args, **kwargs)

    monkeypatch.setattr(merge, "check_shard", counted)
    files = _real()
    jobs = str(merge.SPLIT_FROM - 1)
    code, out, err = _cli(capsys, "--format", "json", "--coverage", "--jobs", jobs, *files)
    assert (code, out) == _cli(capsys, "--format", "json", "--coverage", *files)[:2]
    assert "--jobs: checking in one process: " in err
    assert "share" in err
    assert shards == [1, 1]  # (a block of files, refused; then all of them)


def test_a_few_files_below_split_from_are_checked_in_one_process(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """One file with fewer than `SPLIT_FROM` processes: checked as without ``--jobs`` (no
    shard, no note); from `SPLIT_FROM`, split by thread. The same report either way."""
    from conformance import merge

    shards: list[int] = []
    check = merge.check_shard

    def counted(*args: Any, **kwargs: Any) -> Any:
        shards.append(kwargs["shards"])
        return check(*args, **kwargs)

    monkeypatch.setattr(merge, "check_shard", counted)
    monkeypatch.setattr(merge, "SPLIT_FROM", 3)  # (fewer processes to start than with 4)
    path = _real()[0]
    one = _cli(capsys, "--format", "json", path)
    for jobs in range(2, merge.SPLIT_FROM):
        assert _cli(capsys, "--format", "json", "--jobs", str(jobs), path) == one
    assert shards == []
    assert _cli(capsys, "--format", "json", "--jobs", str(merge.SPLIT_FROM), path) == one
    assert shards == [merge.SPLIT_FROM]


def test_parallel_says_when_jobs_use_more_than_one_process() -> None:
    from conformance.merge import SPLIT_FROM, parallel

    assert not parallel(0, 4)  # (nothing to check)
    assert not parallel(8, 1)
    assert parallel(4, 2)  # (whole files in blocks: twice as many files as processes)
    assert not parallel(3, 2)
    assert not parallel(1, SPLIT_FROM - 1)
    assert parallel(1, SPLIT_FROM)  # (one file split by thread)
    assert parallel(2 * SPLIT_FROM - 1, SPLIT_FROM)


@pytest.mark.slow
def test_jobs_on_each_real_recording_alone(
    capsys: pytest.CaptureFixture[str], split_from_2: None
) -> None:
    for path in _real():
        one = _cli(capsys, "--format", "json", path)
        assert _cli(capsys, "--format", "json", "--jobs", "2", path) == one, path


@needs_real
def test_jobs_keep_unusable_files_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    missing = str(tmp_path / "missing.jsonl")
    files = [*_real()[:3], str(empty), missing]
    one = _cli(capsys, *files)
    assert one[0] == 2
    assert _cli(capsys, "--jobs", "2", *files) == one


@pytest.mark.parametrize("bad", ["-1", "two", "1.5", ""])
def test_a_bad_jobs_value_is_a_usage_error(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    code, out, err = _cli(capsys, "--jobs", bad, _real()[0])
    assert (code, out) == (2, "")
    assert "argument --jobs" in err
    assert "Traceback" not in err


@needs_real
def test_jobs_auto_and_zero_mean_every_core(capsys: pytest.CaptureFixture[str]) -> None:
    files = _real()[:4]
    one = _cli(capsys, *files)
    assert _cli(capsys, "--jobs", "auto", *files) == one
    assert _cli(capsys, "--jobs", "0", *files) == one


# -- --mergeable and --merge -----------------------------------------------------------------


def test_mergeable_json_is_the_json_report_plus_a_shard_member(
    capsys: pytest.CaptureFixture[str],
) -> None:
    files = _real()
    plain = _cli(capsys, "--format", "json", *files)
    code, out, _ = _cli(capsys, "--format", "json", "--mergeable", *files)
    doc = json.loads(out)
    assert doc.pop("shard")["format"] == "runmodel-check-shard"
    assert (code, doc) == (plain[0], json.loads(plain[1]))


@needs_real
@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
def test_merged_shard_reports_are_the_report_of_all_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str
) -> None:
    files = _real()
    parts = [files[:5], files[5:11], files[11:]]
    shards = []
    for n, part in enumerate(parts):
        out = str(tmp_path / f"shard{n}.json")
        code, _, _ = _cli(capsys, "--format", "json", "--mergeable", "-o", out, *part)
        assert code in (0, 1, 2)
        shards.append(out)
    whole = _cli(capsys, "--format", fmt, *files)
    assert _cli(capsys, "--merge", "--format", fmt, *shards) == whole


def test_merge_refuses_what_is_not_a_shard(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    plain = tmp_path / "plain.json"
    assert _cli(capsys, "--format", "json", "-o", str(plain), _real()[0])[0] in (0, 1)
    code, out, err = _cli(capsys, "--merge", str(plain))
    assert (code, out) == (2, "")
    assert "not a mergeable report" in err
    assert _cli(capsys, "--mergeable", _real()[0])[0] == 2  # needs --format json
