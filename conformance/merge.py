"""One report from shards checked apart: ``runmodel check --jobs N`` and ``runmodel check --merge``.

Each shard's journal (`conformance.check.shard`) places its events at their positions in the
whole input; the merge replays them as the single process would have met them: runs are closed
in the order the single process's window of settled runs closes them, edges are listed in the
order first needed, findings in input order. The merge trusts shards only when it can show that
none of them could have judged differently from the single process (no shared thread, no object
seen again after the single process would have forgotten it); otherwise `--jobs` checks in one
process and `--merge` says why (exit 2). A shard's journal travels as the ``"shard"`` member of
its JSON report (``runmodel check --format json --mergeable``).
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_all_start_methods, get_context
from multiprocessing.context import BaseContext
from operator import itemgetter
from typing import Any

import orjson

from runmodel import RunmodelError, Strictness

from .check import (
    CheckFinished,
    CheckStarted,
    CheckSummary,
    Coverage,
    Event,
    RunChecked,
    RunResult,
    Severity,
    Violation,
    ViolationFound,
)
from .check.shard import (
    FINISH,
    MEMORY,
    WINDOW,
    FileTally,
    Journal,
    check_shard,
    numbered_files,
    unusable_violation,
)
from .observations import Location
from .reports import FORMATS, Report, to_json, to_text

__all__ = [
    "SHARD_FORMAT",
    "SPLIT_FROM",
    "MergeError",
    "Merged",
    "check_files",
    "journal_from_dict",
    "journal_to_dict",
    "load_shards",
    "merge_journals",
    "merge_reports",
    "parallel",
    "render",
    "shard_report",
]

SHARD_FORMAT = "runmodel-check-shard"
"""The ``format`` of the ``"shard"`` member of a mergeable JSON report."""

SPLIT_FROM = 4
"""The fewest processes `check_files` splits files by thread in: each process reads, pre-filters
and follows every line, so with fewer the busiest one costs about as much as one process over
the whole (measured in ``bench/bench_jobs.py``), and one process is as fast."""

_END = 1 << 62  # the position, in a file, of what the check does once the file is read
_POSITION = itemgetter(0)  # (of an event)


class MergeError(RunmodelError):
    """Shards that cannot be merged into the single process's report (the message says why)."""


class Merged:
    """The merged check: its events (feed them to a `Report`), the summary, and what the files
    with nothing to check held (``path``, why), as the check says on stderr."""

    def __init__(self, events: list[Event], summary: CheckSummary, unusable: list[tuple[str, str]]):
        self.events = events
        self.summary = summary
        self.unusable = unusable

    def report(self, *, keep_clean: bool = True) -> Report:
        """The report the single process would have collected."""
        report = Report(keep_clean=keep_clean)
        for event in self.events:
            report(event)
        return report


def _doubts(journals: Sequence[Journal]) -> list[str]:
    """Why these shards might not add up to the single process's check (none: they do)."""
    if len(journals) < 2:
        return []
    out = [d for j in journals for d in j.doubts]
    finishing = [
        i
        for i, j in enumerate(journals)
        if any(p[0] == FINISH and kind in ("open", "other") for p, kind, _ in j.events)
    ]
    if len(finishing) > 1:
        out.append("findings at the end of input in more than one shard")
    by_files = [j for j in journals if j.keys]
    seen: dict[str, int] = {}
    for i, j in enumerate(by_files):
        for k in j.keys:
            other = seen.setdefault(k, i)
            if other != i:
                out.append(f"shards share {k[2:]!r}: check the files that name it together")
                return out
    for i, j in enumerate(by_files):
        if j.orphan_streams and i > 0:
            out.append("a shard has stream events of a stream begun before it")
        if j.open_streams and i < len(by_files) - 1:
            out.append("a shard leaves a stream open that a later one may take up")
    return out


class _Replay:
    """One pass over the merged events, as one process would have met them: the runs in the
    order its window of settled runs closes them, each with the position at which it does
    (``FINISH`` at the end), and what each kind of event adds to the report."""

    def __init__(self, events: list[tuple[tuple[int, int], str, Any]], window: int) -> None:
        fifo: OrderedDict[str, None] = OrderedDict()
        opened: OrderedDict[str, None] = OrderedDict()
        closes: list[tuple[str, tuple[int, int]]] = []
        # a closed run -> the closes before it, to tell what one process has forgotten
        closed_when: dict[str, int] = {}
        doubts: list[str] = []
        results: dict[str, list[tuple[tuple[int, int], RunResult]]] = {}
        others: list[Event] = []
        needs: dict[str, None] = {}
        unusable: dict[str, None] = {}
        forgets = MEMORY // 2
        for pos, kind, payload in events:
            if kind == "open":
                opened[payload] = None
                when = closed_when.get(payload)
                if when is not None and len(closes) - when >= forgets:
                    doubts.append(f"run {payload} seen again after one process forgot it")
            elif kind == "settle":
                if payload not in fifo:
                    fifo[payload] = None
                    if len(fifo) > window:
                        oldest = fifo.popitem(last=False)[0]
                        if opened.pop(oldest, 1) is None:
                            closed_when[oldest] = len(closes)
                            closes.append((oldest, pos))
            elif kind == "run":
                found = results.get(payload.run_id)
                if found is None:
                    results[payload.run_id] = [(pos, payload)]
                else:
                    found.append((pos, payload))
            elif kind == "other":
                others.append(ViolationFound(payload))
            elif kind == "need":
                needs.setdefault(payload)
            elif kind == "unusable":
                unusable.setdefault(payload)
        closes.extend((rid, (FINISH, 0)) for rid in opened)
        self.closes, self.doubts, self.results = closes, doubts, results
        self.others, self.needs, self.unusable = others, needs, unusable


def _file_ends(
    journals: Sequence[Journal],
    strictness: Strictness,
    items: list[tuple[tuple[int, int], str, Any]],
) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """What the check does once a file is read: a file with nothing checkable is unusable (its
    finding, and the file, are added to `items`). Returns the counts it adds and the files."""
    tallies: dict[int, list[FileTally]] = {}
    for j in journals:
        for t in j.files:
            tallies.setdefault(t.index, []).append(t)
    extra = {"items": 0, "input_problems": 0, "errors": 0}
    unusable: list[tuple[str, str]] = []
    for index in sorted(tallies):
        ts = tallies[index]
        if sum(t.checkable for t in ts):
            continue
        path, at = ts[0].path, (index, _END)
        if not sum(t.problems for t in ts):
            v = unusable_violation(strictness, path, ts[0].nothing)
            items.append((at, "other", v))
            extra["items"] += 1
            extra["input_problems"] += 1
            extra["errors"] += 1
        items.append((at, "unusable", path))
        unusable.append((path, ""))
    return extra, unusable


def merge_journals(journals: Sequence[Journal], *, window: int = WINDOW) -> Merged:
    """Merge the journals of shards of one input (positions already global) into the events
    the single process would have emitted; `MergeError` when they might differ from them."""
    if not journals:
        raise MergeError("no shards to merge")
    strictness, fail_on = journals[0].strictness, journals[0].fail_on
    if any(j.strictness is not strictness or j.fail_on is not fail_on for j in journals):
        raise MergeError("the shards were checked with different --strictness or --fail-on")
    doubts = _doubts(journals)
    # what the check does at files' ends, then every journal's events in order: a stable sort
    # by position alone orders them by (position, journal, order in it), these ends first
    items: list[tuple[tuple[int, int], str, Any]] = []
    extra, unusable = _file_ends(journals, strictness, items)
    for j in journals:
        items += j.events
    items.sort(key=_POSITION)
    replay = _Replay(items, window)
    doubts += replay.doubts
    results = replay.results
    mentions: dict[str, list[tuple[int, int]]] = {}
    for j in journals:
        for rid, ps in j.mentions.items():
            mentions.setdefault(rid, []).extend(ps)
    ordered: list[Event] = []
    taken: dict[str, int] = {}
    several = len(journals) > 1
    for rid, at in replay.closes:
        n = taken.get(rid, 0)
        taken[rid] = n + 1
        mine = results.get(rid, ())
        if n >= len(mine):
            doubts.append(f"run {rid} closed more often than its shard closed it")
            break
        shard_at, result = mine[n]
        if shard_at < at:
            doubts.append(f"run {rid} closed by its shard before one process would have")
            break
        if several and at < shard_at:
            if any(at <= m <= shard_at for m in mentions.get(rid, ())):
                doubts.append(f"run {rid} seen again after one process would have closed it")
                break
            if result.final_status is not None and result.final_status not in _TERMINAL:
                doubts.append(f"run {rid} closed while active, by the window of settled runs")
                break
        ordered.append(RunChecked(result))
    if any(taken.get(rid, 0) != len(rs) for rid, rs in results.items()):
        doubts.append("a shard closed a run more often than one process would")
    if doubts:
        raise MergeError("; ".join(dict.fromkeys(doubts)))
    ordered += replay.others
    needs, unusable_files = replay.needs, replay.unusable
    counts = {k: sum(j.counts[k] for j in journals) for k in journals[0].counts}
    for k, n in extra.items():
        counts[k] += n
    summary = CheckSummary(
        strictness=strictness,
        items=counts["items"],
        observations=counts["observations"],
        runs=counts["runs"],
        failing_runs=counts["failing_runs"],
        errors=counts["errors"],
        warnings=counts["warnings"],
        input_problems=counts["input_problems"],
        unusable_files=tuple(unusable_files),
        needs=tuple(needs),
        coverage=_coverage(journals),
        fail_on=fail_on,
    )
    events: list[Event] = [CheckStarted(strictness), *ordered, CheckFinished(summary)]
    merged = Merged(events, summary, unusable)
    if unusable:  # (what each says: its finding, as the report lists it)
        report = merged.report()
        merged.unusable = [
            (p, next((v.message for v in report.other if v.loc and v.loc.file == p), ""))
            for p, _ in unusable
        ]
    return merged


def _coverage(journals: Sequence[Journal]) -> Coverage:
    edges: dict[str, dict[tuple[str, str], int]] = {}
    rules: dict[str, int] = {}
    links: dict[str, int] = {}
    for j in journals:
        for lc, m in j.coverage["edges"].items():
            into = edges.setdefault(lc, {})
            for e, n in m.items():
                into[e] = into.get(e, 0) + n
        for code, n in j.coverage["rules"].items():
            rules[code] = rules.get(code, 0) + n
        for code, n in j.coverage["links"].items():
            links[code] = links.get(code, 0) + n
    return Coverage(edges=edges, rules=rules, links=links)


def _terminal() -> frozenset[str]:
    from runmodel import RUN

    return frozenset(RUN.terminal)


_TERMINAL = _terminal()


# -- running shards ----------------------------------------------------------------------------


def _work(
    paths: list[tuple[int, str]],
    shard: int,
    shards: int,
    strictness: Strictness,
    fail_on: Severity,
    grace: float,
) -> Journal:
    """A worker process: check one shard of the files."""
    # the journal keeps many small objects alive: collecting less often keeps the cycle
    # collector from walking them over and over (the engine makes few cycles)
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], 100_000), 50, 1000)
    try:
        return check_shard(
            numbered_files(paths),
            shard=shard,
            shards=shards,
            strictness=strictness,
            fail_on=fail_on,
            expiry_grace=grace,
        )
    finally:
        gc.set_threshold(*threshold)


def _shards(
    tasks: list[tuple[list[tuple[int, str]], int, int]],
    opts: tuple[Strictness, Severity, float],
) -> list[Journal]:
    """The journals of `tasks` (``(files, shard, shards)``): the first checked in this process
    while worker processes (forked first) check the others, whose journals then travel back."""
    (files, shard, shards), rest = tasks[0], tasks[1:]
    if not rest:
        return [_work(files, shard, shards, *opts)]
    with ProcessPoolExecutor(len(rest), mp_context=_context()) as pool:
        futures = [pool.submit(_work, f, i, n, *opts) for f, i, n in rest]
        mine = _work(files, shard, shards, *opts)
        with _collector_paused():  # (it would walk the journals over and over as they arrive)
            return [mine, *(f.result() for f in futures)]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The cycle collector off while the block runs (it makes many objects that stay alive)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _context() -> BaseContext:
    """Fork, which starts a worker without importing anything again, where it is safe: on a
    platform that has it, from a process with one thread; else spawn."""
    methods = get_all_start_methods()
    return get_context("fork" if "fork" in methods and threading.active_count() == 1 else "spawn")


def _blocks(paths: list[str], n: int) -> list[list[tuple[int, str]]]:
    """`paths` in `n` consecutive blocks of about equal size in bytes (each block's files stay
    in input order, so what the single process keeps across them is kept in one shard)."""
    sizes = []
    for p in paths:
        try:
            sizes.append(max(1, os.stat(p).st_size))
        except OSError:
            sizes.append(1)
    total, acc = sum(sizes), 0
    out: list[list[tuple[int, str]]] = [[] for _ in range(n)]
    for i, (p, size) in enumerate(zip(paths, sizes, strict=True)):
        out[min(n - 1, acc * n // total)].append((i, p))
        acc += size
    return [b for b in out if b]


def parallel(files: int, jobs: int) -> bool:
    """Whether `check_files` checks `files` files in more than one process with `jobs` (0: one
    per core): whole files in blocks when there are twice as many as processes, else split by
    thread from `SPLIT_FROM` processes."""
    jobs = jobs or os.cpu_count() or 1
    return jobs > 1 and files > 0 and (files >= 2 * jobs or jobs >= SPLIT_FROM)


def check_files(
    paths: Sequence[str],
    jobs: int,
    *,
    strictness: Strictness = Strictness.STRICT,
    fail_on: Severity = Severity.ERROR,
    expiry_grace: float = 60.0,
) -> tuple[Merged, Journal | None]:
    """Check `paths` in `jobs` processes (0: one per core) and merge: whole files in consecutive
    blocks when there are at least twice as many files as processes (and they share no thread),
    else, from `SPLIT_FROM` processes, every process reads every file and checks the threads
    hashed to it; else one process. Where shards might still differ from one process, check in
    one process (with a note on stderr). This process checks one shard itself. Returns the
    merged check and, for one process, its journal."""
    jobs = jobs or os.cpu_count() or 1
    numbered = list(enumerate(paths))
    opts = (strictness, fail_on, expiry_grace)
    plans: list[list[tuple[list[tuple[int, str]], int, int]]] = []
    if jobs > 1 and numbered:
        if len(numbered) >= 2 * jobs:  # whole files; where they share threads, by thread
            plans.append([(block, 0, 1) for block in _blocks(list(paths), jobs)])
        if jobs >= SPLIT_FROM:
            plans.append([(numbered, i, jobs) for i in range(jobs)])
    why = ""
    for tasks in plans:
        journals = _shards(tasks, opts)
        with _collector_paused():
            try:
                return merge_journals(journals), None
            except MergeError as exc:
                why = str(exc)
    if why:
        print(f"runmodel check: --jobs: checking in one process: {why}", file=sys.stderr)
    journal = _work(numbered, 0, 1, *opts)
    return merge_journals([journal]), journal


# -- the shard member of a JSON report ------------------------------------------------------


def _loc(d: dict[str, Any], key: str = "file") -> Location | None:
    file = d.get(key)
    return None if file is None else Location(file, d.get("line"), d.get("where"))


def _violation(d: dict[str, Any]) -> Violation:
    return Violation(
        d["code"],
        Severity(d["severity"]),
        d["message"],
        d["run_id"],
        d["subject"],
        _loc(d),
        d["seq"],
        d["observed"],
        d["allowed"],
        d["grade"],
        tuple(d["sources"]),
        d["hint"],
        tuple(d["path"]),
        tuple(d["needs"]),
        d["rule"],
        d["count"],
    )


def _run_to_dict(r: RunResult) -> dict[str, Any]:
    loc = r.first_seen
    return {
        "run_id": r.run_id,
        "thread_id": r.thread_id,
        "file": loc.file if loc else None,
        "line": loc.line if loc else None,
        "where": loc.where if loc else None,
        "observations": r.observations,
        "statuses": list(r.statuses),
        "final_status": r.final_status,
        "level": r.level.value if r.level is not None else None,
        "needs": list(r.needs),
        "violations": [v.to_dict() for v in r.violations],
        **({"lifecycle": r.lifecycle} if r.lifecycle != "run" else {}),
    }


def _run(d: dict[str, Any]) -> RunResult:
    return RunResult(
        d["run_id"],
        d["thread_id"],
        _loc(d),
        d["observations"],
        tuple(d["statuses"]),
        d["final_status"],
        Strictness(d["level"]) if d["level"] is not None else None,
        tuple(d["needs"]),
        tuple(_violation(v) for v in d["violations"]),
        d.get("lifecycle", "run"),
    )


_TO: dict[str, Callable[[Any], Any]] = {"run": _run_to_dict, "other": Violation.to_dict}
_FROM: dict[str, Callable[[Any], Any]] = {"run": _run, "other": _violation}


def journal_to_dict(j: Journal) -> dict[str, Any]:
    """A JSON-ready mapping of a shard's journal (the ``"shard"`` member of its report)."""
    return {
        "format": SHARD_FORMAT,
        "version": 1,
        "strictness": j.strictness.value,
        "fail_on": j.fail_on.value,
        "files": [[t.path, t.index, t.checkable, t.problems, t.nothing] for t in j.files],
        "events": [
            [list(pos), kind, _TO[kind](p) if kind in _TO else p] for pos, kind, p in j.events
        ],
        "mentions": {rid: [list(p) for p in ps] for rid, ps in j.mentions.items()},
        "counts": j.counts,
        "coverage": {
            "edges": {
                lc: [[a, b, n] for (a, b), n in m.items()] for lc, m in j.coverage["edges"].items()
            },
            "rules": j.coverage["rules"],
            "links": j.coverage["links"],
        },
        "doubts": j.doubts,
        "keys": sorted(j.keys),
        "orphan_streams": j.orphan_streams,
        "open_streams": j.open_streams,
    }


def journal_from_dict(d: dict[str, Any], offset: int = 0) -> Journal:
    """A journal back from `journal_to_dict`, its file indices moved on by `offset`."""

    def at(p: list[int]) -> tuple[int, int]:
        return (p[0] if p[0] == FINISH else p[0] + offset, p[1])

    cov = d["coverage"]
    return Journal(
        strictness=Strictness(d["strictness"]),
        fail_on=Severity(d["fail_on"]),
        files=[FileTally(p, i + offset, c, pr, no) for p, i, c, pr, no in d["files"]],
        events=[(at(p), k, _FROM[k](x) if k in _FROM else x) for p, k, x in d["events"]],
        mentions={rid: [at(p) for p in ps] for rid, ps in d["mentions"].items()},
        counts=d["counts"],
        coverage={
            "edges": {lc: {(a, b): n for a, b, n in m} for lc, m in cov["edges"].items()},
            "rules": cov["rules"],
            "links": cov["links"],
        },
        doubts=d["doubts"],
        keys=set(d["keys"]),
        orphan_streams=d["orphan_streams"],
        open_streams=d["open_streams"],
    )


def load_shards(paths: Sequence[str]) -> list[Journal]:
    """The journals of mergeable JSON reports in files, in order."""
    texts: list[tuple[str, str | bytes]] = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                texts.append((path, f.read()))
        except OSError as exc:
            raise MergeError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return _journals(texts)


def _journals(texts: Sequence[tuple[str, str | bytes]]) -> list[Journal]:
    """The journals of mergeable JSON reports, in order, each after the files of those before."""
    out: list[Journal] = []
    offset = 0
    for name, text in texts:
        try:
            doc = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise MergeError(f"{name}: not JSON: {exc}") from None
        shard = doc.get("shard") if type(doc) is dict else None
        if type(shard) is not dict or shard.get("format") != SHARD_FORMAT:
            raise MergeError(
                f"{name}: not a mergeable report (write it with --format json --mergeable)"
            )
        try:
            journal = journal_from_dict(shard, offset)
        except (KeyError, TypeError, ValueError) as exc:
            raise MergeError(f"{name}: a damaged shard member: {exc!r}") from None
        offset += len(journal.files)
        out.append(journal)
    return out


# -- the command line --------------------------------------------------------------------------


def render(
    merged: Merged, fmt: str, *, coverage: bool = False, journal: Journal | None = None
) -> str:
    """The report in `fmt` (text, json, junit); JSON with `journal` is mergeable. (The cycle
    collector is off meanwhile: it would walk the merged events over and over, to free none.)"""
    with _collector_paused():
        report = merged.report(keep_clean=fmt != "text")
        if fmt == "text":
            return to_text(report, coverage=coverage)
        if fmt == "json" and journal is not None:
            shard = orjson.dumps(journal_to_dict(journal)).decode()
            return to_json(report).rstrip()[:-1].rstrip() + f',\n  "shard": {shard}\n}}\n'
        return FORMATS[fmt](report)


def shard_report(
    paths: Sequence[str],
    *,
    strictness: Strictness = Strictness.STRICT,
    fail_on: Severity = Severity.ERROR,
    expiry_grace: float = 60.0,
) -> str:
    """The mergeable JSON report of `paths`, checked in this process: what ``runmodel check
    --format json --mergeable`` writes, for a distributed engine's task to return."""
    merged, journal = check_files(
        paths, 1, strictness=strictness, fail_on=fail_on, expiry_grace=expiry_grace
    )
    return render(merged, "json", journal=journal)


def merge_reports(texts: Sequence[str | bytes]) -> Merged:
    """Merge mergeable JSON reports (of consecutive parts of the input, in order), as
    ``runmodel check --merge`` does; `MergeError` says why they cannot be."""
    return merge_journals(_journals([(f"shard {n + 1}", t) for n, t in enumerate(texts)]))
