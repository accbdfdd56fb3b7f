"""Check one shard of the input and keep a journal that `conformance.merge` replays into the one
report a single process would have written.

A shard is either whole files (every item of them), or, for a few large files, the items of
some threads: every worker reads every file and keeps the items whose thread (else run, else
stream) hashes to it. A thread is the unit because the model's cross-run rules are per thread
(one active run per thread; a new run or message on a thread while its run is active), and a
run's steps, messages, requests and streams carry its thread or run id. The journal places
every event at its item's position in the whole input, with what the single process's bounded
memory depends on (runs opened and settled, edges first needed), and notes anything that could
make the shard's check differ from the single process's: the merge then checks in one process.
"""

from __future__ import annotations

import re
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from runmodel import LINKS, RUN, Lifecycle, Strictness

from ..decode import CHECKED
from ..observations import (
    Exchange,
    InputProblem,
    Item,
    Location,
    Snapshot,
    StreamEvent,
    TraceInfo,
)
from ..readers import read
from .engine import EXPIRY_GRACE, MEMORY, WINDOW, Checker
from .lines import LineFilter, cut_hint, run_hint
from .results import Event, RunChecked, RunResult, Severity, Violation, ViolationFound
from .streams import OBJECTS

__all__ = [
    "FINISH",
    "MEMORY",
    "WINDOW",
    "FileItems",
    "FileTally",
    "Journal",
    "Router",
    "check_shard",
    "item_keys",
    "nothing_message",
    "numbered_files",
    "run_hint",
    "unusable_violation",
]

FINISH = 1 << 62
"""The position (as a file index) of what happens at the end of input, after every file."""

Pos = tuple[int, int]
"""(file index in the whole input, item index in that file)."""

_THREAD_PATH = re.compile(r"/threads/(?P<thread>[^/]+)(?:/runs/(?P<run>[^/]+))?")
_RESPONSE_PATH = re.compile(r"/responses/(?P<id>[^/]+)")
_CHILD_OBJECTS = frozenset(("thread.run.step", "thread.message"))
_OWN = {kind: lc for kind, lc in OBJECTS.items() if lc.name not in {k.lifecycle for k in LINKS}}
"""The objects tracked on their own, as runs are (a run, a response), by ``object`` type."""
_RUN_STATUSES = frozenset(RUN.statuses)
_TERMINAL = frozenset(RUN.terminal)
_ACTIVE = _RUN_STATUSES - _TERMINAL
_NO_RUNS: tuple[str, ...] = ()


def _object_keys(obj: Any, keys: list[str], children: list[str]) -> None:
    """The thread, run and object ids an object (or a list of them) names."""
    if type(obj) is not dict:
        return
    kind = obj.get("object")
    if kind == "list":
        data = obj.get("data")
        if type(data) is list:
            for element in data:
                _object_keys(element, keys, children)
        return
    tid, oid = obj.get("thread_id"), obj.get("id")
    if type(tid) is str:
        keys.append("t:" + tid)
    if kind in _OWN:
        if type(oid) is str:
            keys.append("r:" + oid)
        prev = obj.get("previous_response_id")  # (a function round: with the one it answers)
        if type(prev) is str:
            keys.append("r:" + prev)
        return
    if type(obj.get("response")) is dict:  # a response's stream event
        _object_keys(obj["response"], keys, children)
        return
    rid = obj.get("run_id")
    if type(rid) is str:
        keys.append("r:" + rid)
    if kind in _CHILD_OBJECTS and type(oid) is str:
        keys.append("c:" + oid)
        children.append(oid)
    elif kind == "thread" and type(oid) is str:
        keys.append("t:" + oid)


def item_keys(item: Item) -> tuple[list[str], list[str]]:
    """The keys an item is tied by (``t:`` thread, ``r:`` run, ``c:`` step or message ids),
    threads first, and the step and message ids among them."""
    keys: list[str] = []
    children: list[str] = []
    if isinstance(item, Snapshot):
        _object_keys(item.obj, keys, children)
    elif isinstance(item, StreamEvent):
        _object_keys(item.data, keys, children)
    elif isinstance(item, Exchange):
        m = _THREAD_PATH.search(item.path)
        if m is not None and m["thread"] != "runs":
            keys.append("t:" + m["thread"])
            if m["run"]:
                keys.append("r:" + m["run"])
        m = _RESPONSE_PATH.search(item.path)
        if m is not None:
            keys.append("r:" + m["id"])
        body = item.request_body
        if type(body) is dict and type(body.get("thread_id")) is str:
            keys.append("t:" + body["thread_id"])
        if type(body) is dict and type(body.get("previous_response_id")) is str:
            keys.append("r:" + body["previous_response_id"])
        _object_keys(item.response_body, keys, children)
    keys.sort(key=lambda k: k[0] != "t")  # stable: threads first
    return keys, children


class Router:
    """Assigns items to `shards` workers, the same way in every worker: an item goes where the
    ids it names already went (a thread, its runs, their steps and messages, a stream), else by
    a hash of its first id; items naming no id go to worker 0. An item naming ids already sent
    to two workers is a conflict: the shards cannot be checked apart (`conflicts`)."""

    def __init__(self, shards: int) -> None:
        self.shards = shards
        self.owner: dict[str, int] = {}
        self.streams: dict[int | None, int] = {}  # exchange seq -> the worker of its stream
        self.conflicts = 0

    def route(self, item: Item, keys: list[str]) -> int:
        """The worker that checks `item`."""
        owner = self.owner
        sid: int | None = None
        stream = False
        if isinstance(item, StreamEvent):
            sid, stream = item.exchange_seq, True
        shard = -1
        for k in keys:
            s = owner.get(k)
            if s is not None and s != shard:
                if shard >= 0:
                    self.conflicts += 1
                shard = s if shard < 0 else min(s, shard)
        if stream and sid in self.streams and self.streams[sid] != shard:
            if shard >= 0:
                self.conflicts += 1
            shard = self.streams[sid] if shard < 0 else min(self.streams[sid], shard)
        if shard < 0:  # nothing it names was seen: a new thread (or run, or stream)
            first = keys[0] if keys else str(sid) if stream else ""
            shard = zlib.crc32(first.encode()) % self.shards if first else 0
        for k in keys:
            owner.setdefault(k, shard)
        if stream:
            self.streams.setdefault(sid, shard)
        elif isinstance(item, Exchange) and item.streamed:
            self.streams[item.seq] = shard  # a new stream on this seq replaces the old one
        return shard


def nothing_message(counts: dict[str, int], fmt: str | None) -> str:
    """The message of an ``input.unusable`` finding for a file with nothing to check."""
    what = {"Exchange": "HTTP exchange", "Snapshot": "object", "StreamEvent": "stream event"}
    got = ", ".join(f"{n} {what.get(k, k)}{'' if n == 1 else 's'}" for k, n in counts.items())
    fmt_text = f"read as {fmt}: " if fmt else ""
    return (
        f"nothing to check: no run, run step or message, and no request on one "
        f"({fmt_text}{got or 'nothing'})"
    )


@dataclass
class FileTally:
    """What one shard saw of one file: items checkable and problems fed, and, for a file with
    nothing to check, what it held."""

    path: str
    index: int
    checkable: int = 0
    problems: int = 0
    nothing: str = ""


@dataclass
class Journal:
    """One shard's check: its events at their positions in the whole input, in order, and what
    its summary adds to the merged one.

    `events` are ``(pos, kind, payload)``: ``open``/``settle`` (a run id), ``need`` (an edge),
    ``unusable`` (a file), ``run`` (a `RunResult`), ``other`` (a `Violation`); at the end of
    input, pos is ``(FINISH, 0)``. `mentions`: per run that settled, the positions of the items
    that named it after. `doubts`: why this shard's check might differ from the single
    process's (then the merge does not trust it).
    """

    strictness: Strictness
    fail_on: Severity
    files: list[FileTally]
    events: list[tuple[Pos, str, Any]] = field(default_factory=list)
    mentions: dict[str, list[Pos]] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)
    doubts: list[str] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    orphan_streams: bool = False  # stream events whose stream began before this shard
    open_streams: bool = False  # streams still open at its end

    def __getstate__(self) -> dict[str, Any]:
        """What a worker process sends back, compact: positions as two arrays of integers,
        kinds as bytes, each run's result as a tuple (a worker's journal holds one a run)."""
        state = dict(self.__dict__)
        files, items, kinds = array("q"), array("q"), bytearray()
        payloads: list[Any] = []
        code, level = _KIND_CODES, _LEVEL_VALUES
        for (f, n), kind, payload in self.events:
            files.append(f)
            items.append(n)
            kinds.append(code[kind])
            if kind == "run":
                r = payload
                payload = (
                    r.run_id,
                    r.thread_id,
                    r.first_seen,
                    r.observations,
                    r.statuses,
                    r.final_status,
                    level[r.level],
                    r.needs,
                    r.violations,
                    r.lifecycle,
                )
            payloads.append(payload)
        state["events"] = (files, items, bytes(kinds), payloads)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        files, items, kinds, payloads = state["events"]
        events: list[tuple[Pos, str, Any]] = []
        append, names, levels, result = events.append, _KINDS, _LEVELS, RunResult
        for f, n, k, p in zip(files, items, kinds, payloads, strict=True):
            if k == _RUN_CODE:
                p = result(p[0], p[1], p[2], p[3], p[4], p[5], levels[p[6]], p[7], p[8], p[9])
            append(((f, n), names[k], p))
        self.__dict__.update(state)
        self.events = events


_KINDS = ("open", "settle", "need", "unusable", "run", "other")
"""The kinds of a journal's events (`Journal`), by their code in its pickled state."""
_KIND_CODES = {kind: code for code, kind in enumerate(_KINDS)}
_RUN_CODE = _KIND_CODES["run"]
_LEVEL_VALUES: dict[Strictness | None, str | None] = {
    None: None,
    **{s: s.value for s in Strictness},
}
_LEVELS = {value: level for level, value in _LEVEL_VALUES.items()}


_ENDING = frozenset(
    f"{kind}.{status}" for kind, lc in _OWN.items() if lc is not RUN for status in lc.terminal
)
"""The events that end a stream without a done event (a response's terminal event)."""


def _ends(ev: StreamEvent) -> bool:
    """Whether `ev` ends its stream though it is not ``done`` (``response.completed``)."""
    data = ev.data
    name = data.get("type", ev.event) if ev.event == "message" and type(data) is dict else ev.event
    return name in _ENDING


class _Streams:
    """Which streams are open, as the engine sees them: opened by a streamed reply, or by an
    event of a stream not seen open; ended by ``done``."""

    def __init__(self) -> None:
        self.open: set[int | None] = set()
        self.seen: set[int | None] = set()
        self.done = 0
        self.orphans = False

    def see(self, item: Item) -> bool:
        """Track `item`; True when it replaces a stream still open (another exchange, same seq)."""
        if isinstance(item, Exchange):
            if item.streamed and item.status is not None and 200 <= item.status < 300:
                replaced = item.seq in self.open
                self.open.add(item.seq)
                self.seen.add(item.seq)
                return replaced
        elif isinstance(item, StreamEvent):
            sid = item.exchange_seq
            if sid not in self.seen:
                self.orphans = True
                self.seen.add(sid)
                self.open.add(sid)
            if item.event == "done" or _ends(item):
                self.done += 1
                self.open.discard(sid)
        return False


class _Window:
    """The whole input's window of settled runs, as one process keeps it, in a shard that reads
    every item: its own runs' settles come from its engine (`settle`), the other shards' are
    foreseen from their objects (`foresee`). When the window closes one of its own runs, the
    shard closes it (`Checker.close_run`), so that it closes every run where one process
    would; the merge verifies that it did, and checks in one process where not."""

    def __init__(self, size: int, mine: Callable[[str], bool], close: Callable[[str], None]):
        self.size = size
        self.mine = mine
        self.close = close
        self.fifo: OrderedDict[str, None] = OrderedDict()
        self.status: dict[str, str] = {}  # another shard's run -> its last known status
        self.children: dict[str, set[tuple[str, str]]] = {}  # -> its open steps and messages
        self.child_status: dict[tuple[str, str], str] = {}

    def settle(self, rid: str) -> None:
        """A run became terminal with nothing open (as the engine's window takes it)."""
        fifo = self.fifo
        fifo[rid] = None
        if len(fifo) > self.size:
            oldest = fifo.popitem(last=False)[0]
            if self.mine(oldest):
                self.close(oldest)
            else:
                self.children.pop(oldest, None)  # (its status is remembered, as closed runs')

    def foresee(self, item: Item) -> None:
        """Follow an item of another shard as far as its runs' settling goes."""
        if isinstance(item, Snapshot):
            self.foresee_object(item.obj)
        elif isinstance(item, Exchange):
            ok = item.status is not None and 200 <= item.status < 300
            if ok and not item.streamed:
                self._body(item.response_body)
        elif isinstance(item, StreamEvent):
            self._body(item.data)

    def foresee_object(self, obj: Any) -> None:
        """`foresee` a snapshot of this object."""
        if type(obj) is dict and obj.get("object") == "thread.run":
            self._run(obj)
        else:
            self._body(obj)

    def foresee_run(self, oid: str, status: str) -> None:
        """`foresee_object` of a run object with this id and status (and nothing else read)."""
        if status in _RUN_STATUSES:
            self.status[oid] = status
        fifo, children = self.fifo, self.children
        if oid not in fifo and self.status.get(oid) in _TERMINAL and not children.get(oid):
            self.settle(oid)

    def _body(self, body: Any) -> None:
        if type(body) is not dict:
            return
        kind = body.get("object")
        if kind is None and type(body.get("response")) is dict:  # a response's stream event
            body = body["response"]
            kind = body.get("object")
        if type(kind) is str and (kind == "thread.run" or kind in OBJECTS):
            status = body.get("status")
            if status is not None and type(status) is not str:
                return
            if kind in _OWN:
                self._run(body, _OWN[kind])
            else:
                self._child(OBJECTS[kind], body)
        elif kind == "list" and type(body.get("data")) is list:
            for element in body["data"]:
                self._body(element)

    def _run(self, obj: dict[str, Any], lc: Lifecycle = RUN) -> None:
        oid = obj.get("id")
        if type(oid) is not str:
            return
        status = obj.get("status")
        if type(status) is str and status in (_RUN_STATUSES if lc is RUN else lc):
            self.status[oid] = status
        self._maybe_settled(oid, lc)

    def _maybe_settled(self, oid: str, lc: Lifecycle = RUN) -> None:
        if oid in self.fifo or self.status.get(oid) not in (
            _TERMINAL if lc is RUN else lc.terminal
        ):
            return
        if not self.children.get(oid):
            self.settle(oid)

    def _child(self, lc: Lifecycle, obj: dict[str, Any]) -> None:
        oid = obj.get("id")
        if type(oid) is not str:
            return
        rid = obj.get("run_id")
        key = (lc.name, oid)
        status: Any = obj.get("status")
        if status in lc:
            self.child_status[key] = status
        if type(rid) is not str:
            return
        if self.child_status.get(key) in lc.active:
            self.children.setdefault(rid, set()).add(key)
            return
        held = self.children.get(rid)
        if held:
            held.discard(key)
        self._maybe_settled(rid)


def _nothing(*args: Any) -> None:
    """No run or object to foresee (a shard of whole files reads no other shard's lines)."""


def _clock_only(ex: Exchange) -> Exchange | None:
    """An exchange that only moves the file's server clock (its Date header), for a worker that
    does not check it; None when it would not move it."""
    date = ex.response_headers.get("date")
    if ex.wall is None or type(date) is not str:
        return None
    return Exchange(ex.loc, None, ex.wall, None, "GET", "", response_headers={"date": date})


def check_shard(
    files: Iterable[tuple[int, str, Iterable[Item]]],
    *,
    shard: int = 0,
    shards: int = 1,
    strictness: Strictness = Strictness.STRICT,
    fail_on: Severity = Severity.ERROR,
    expiry_grace: float = EXPIRY_GRACE,
    window: int = WINDOW,
) -> Journal:
    """Check one shard: `files` are ``(index in the whole input, path, items)``; with `shards`
    > 1 every file is read whole and only the items `Router` sends to `shard` are checked.
    (`window`: the engine's window of settled runs, as `Checker` takes it.)"""
    return _Shard(shard, shards, strictness, fail_on, expiry_grace, window).run(files)


class _Shard:
    """`check_shard`'s state: the engine, the journal it writes, what the doubts are kept by."""

    def __init__(
        self,
        shard: int,
        shards: int,
        strictness: Strictness,
        fail_on: Severity,
        expiry_grace: float,
        window: int,
    ) -> None:
        self.shard = shard
        self.journal = journal = Journal(strictness, fail_on, [])
        # the position of the item being checked: in a shard of threads, its index in its file;
        # in a shard of whole files, (-1: ) the engine's count of items, which grows as the
        # file's items do (the merge only orders a file's events, and each file is one shard's)
        self.at = at = [0, 0 if shards > 1 else -1]
        events = journal.events
        self.settled: set[str] = set()
        self.router = Router(shards) if shards > 1 else None
        self.replay: _Window | None = None

        def emit(event: Event) -> None:
            if isinstance(event, RunChecked):
                n = at[1]
                events.append(((at[0], checker.items if n < 0 else n), "run", event.result))
            elif isinstance(event, ViolationFound):
                n = at[1]
                events.append(((at[0], checker.items if n < 0 else n), "other", event.violation))

        def observe(kind: str, key: str) -> None:
            if kind == "settle":
                self.settled.add(key)
                if self.replay is not None:
                    self.replay.settle(key)
            n = at[1]
            events.append(((at[0], checker.items if n < 0 else n), kind, key))

        self.checker = checker = Checker(
            strictness,
            emit=emit,
            expiry_grace=expiry_grace,
            fail_on=fail_on,
            observer=observe,
            window=window if self.router is None else FINISH,  # (closed as `_Window` says)
        )
        if self.router is not None:
            owner = self.router.owner
            self.replay = _Window(window, lambda r: owner.get("r:" + r) == shard, checker.close_run)
        self.streams = _Streams()
        self.child_seen: dict[str, int] = {}
        self.child_count = 0
        self.clock_only = 0
        self.counts: dict[type, int] | None = None
        self.fmt: str | None = None
        # run snapshots by object: readers hand a repeated line's object again, and a run
        # object names the same ids, so goes to the same shard, every time
        self.memo: dict[int, tuple[Any, bool, tuple[str, ...]]] = {}
        # the pre-filter of lines, with the position in its file of the next item read
        # (`next`), and the hint of the line being read when this shard checks it (`pending`,
        # verified once decoded); in a shard of threads it also takes the reader's run objects
        replay = self.replay
        self.filter = LineFilter(
            shard,
            shards,
            {} if self.router is None else self.router.owner,
            at,
            {} if replay is None else replay.status,
            _nothing if replay is None else replay.foresee_run,
            lambda: self._unverified(self.journal.files[-1].path),
            cut_hint,
            checker=checker,
            memo=self.memo,
            settled=self.settled,
            mentions=journal.mentions,
            verified=self._verified,
            route=self._route,
            foresee_object=_nothing if replay is None else replay.foresee_object,
        )
        # a shard of whole files: the threads and runs its run objects taken in place named
        self.threads: set[str] = set()
        self.runs: set[str] = set()

    def run(self, files: Iterable[tuple[int, str, Iterable[Item]]]) -> Journal:
        """Check the files; the journal."""
        journal, checker, streams = self.journal, self.checker, self.streams
        for index, path, items in files:
            tally = FileTally(path, index)
            journal.files.append(tally)
            checkable, problems = checker.checkable, checker.problems
            self.at[0] = index
            self.counts, self.fmt = {}, None  # (kept until the file gives something to check)
            whole = self.router is None
            if isinstance(items, FileItems):
                items.repeated = checker.repeated if whole else self._repeated
                if whole:
                    items.observed = self._observed
                else:
                    items.observed = self._taken
                    items.select = self.filter.select
            self.filter.lines = 0
            self.filter.counts = self.counts
            self.filter.checkable = checkable  # (what the engine had checked before the file)
            owned = self._whole if whole else self._owned
            checker.feed_all(owned(index, items, checkable))
            if self.filter.pending is not None:
                self._unverified(path)
            tally.checkable = checker.checkable - checkable
            tally.problems = checker.problems - problems
            if not tally.checkable and self.counts is not None:
                kinds = {k.__name__: n for k, n in self.counts.items() if k is not TraceInfo}
                tally.nothing = nothing_message(kinds, self.fmt)
        if self.router is not None and self.router.conflicts:
            journal.doubts.append(f"{self.router.conflicts} items name ids of two shards")
        if streams.done >= MEMORY // 2:
            journal.doubts.append(f"{streams.done} streams: more than one process remembers")
        journal.keys.update(["t:" + t for t in self.threads])
        journal.keys.update(["r:" + r for r in self.runs])
        journal.orphan_streams = streams.orphans
        journal.open_streams = bool(streams.open)
        self.at[0], self.at[1] = FINISH, 0
        summary = checker.finish()
        journal.counts = {
            "items": summary.items - self.clock_only,
            "observations": summary.observations,
            "runs": summary.runs,
            "failing_runs": summary.failing_runs,
            "errors": summary.errors,
            "warnings": summary.warnings,
            "input_problems": summary.input_problems,
        }
        cov = summary.coverage
        journal.coverage = {
            "edges": {lc: dict(m) for lc, m in cov.edges.items()},
            "rules": dict(cov.rules),
            "links": dict(cov.links),
        }
        return journal

    def _whole(self, index: int, items: Iterable[Item], checkable: int) -> Iterator[Item]:
        """`_owned` for a shard of whole files: every item is checked, and the journal needs no
        mentions (a run named again in another shard's files is one of the ids they share,
        which the merge refuses), so a repeated line's object goes to the engine's own hook
        (`Checker.repeated`) and a new run object to `_observed`; positions are the engine's
        count of items."""
        checker = self.checker
        keys = self.journal.keys
        for item in items:
            counts = self.counts
            if counts is not None:
                counts[type(item)] = counts.get(type(item), 0) + 1
                if checker.checkable > checkable:
                    self.counts = None
            obj = item.obj if type(item) is Snapshot else None
            if (
                type(obj) is dict
                and obj.get("object") == "thread.run"
                and type(oid := obj.get("id")) is str
                and type(obj.get("previous_response_id")) is not str
            ):  # (a run names its thread and itself: `item_keys`, quicker)
                tid = obj.get("thread_id")
                if type(tid) is str:
                    keys.add("t:" + tid)
                keys.add("r:" + oid)
            else:
                self._classify(item)
            yield item
            if type(item) is InputProblem and item.code == "input.unusable":
                self.journal.events.append(((index, checker.items), "unusable", item.loc.file))

    def _observed(self, obj: dict[str, Any], loc: Location, seq: int) -> bool:
        """The reader's hook for a new object (see `Checker.observed`) in a shard of whole
        files: a run object is checked in place, its thread and run ids noted for the merge's
        refusal of shared ids (each time: a run may name another thread later); any other
        object is left to `_whole`, as an item."""
        if obj.get("object") != "thread.run" or type(obj.get("previous_response_id")) is str:
            return False
        oid = obj.get("id")
        if type(oid) is not str:
            return False
        tid = obj.get("thread_id")
        if type(tid) is str:
            self.threads.add(tid)
        self.runs.add(oid)
        self.counts = None  # (a run object: the file has something to check)
        return self.checker.observed(obj, loc, seq)

    @property
    def _taken(self) -> Callable[[dict[str, Any], Location, int], bool]:
        """The reader's hook for a new object in a shard of threads: `LineFilter.taken` (a run
        object routed, checked in place if this shard's, else foreseen, without a `Snapshot`);
        any other object is left to `_owned`, as an item."""
        return self.filter.taken

    def _route(self, obj: dict[str, Any], loc: Location, seq: int, keys: list[str]) -> bool:
        """Whether this shard checks a run object its line's hint did not route (`Router`)."""
        router = self.router
        assert router is not None
        return router.route(Snapshot(loc, seq, obj), keys) == self.shard

    def _owned(self, index: int, items: Iterable[Item], checkable: int) -> Iterator[Item]:
        """The items of one file this shard checks, each yielded when its position is set and
        followed, once checked, by what the journal notes of it."""
        at, checker, settled = self.at, self.checker, self.settled
        mentions, replay = self.journal.mentions, self.replay
        counts = self.counts
        memo = self.memo
        memo.clear()
        line_filter = self.filter
        line_filter.next = 0
        for item in items:
            n = line_filter.next
            line_filter.next = n + 1
            at[1] = n
            if counts is not None:
                counts[type(item)] = counts.get(type(item), 0) + 1
                if checker.checkable > checkable:
                    counts = self.counts = line_filter.counts = None
            if type(item) is Snapshot:
                hit = memo.get(id(item.obj))
                if hit is not None and hit[0] is item.obj:
                    line_filter.pending = None  # (the object of the same bytes, verified then)
                    if hit[1]:
                        yield item
                        for rid in hit[2]:
                            if rid in settled:
                                mentions.setdefault(rid, []).append((index, n))
                    elif replay is not None:
                        replay.foresee(item)
                    continue
            obj = item.obj if type(item) is Snapshot else None
            if (
                type(obj) is dict
                and obj.get("object") == "thread.run"
                and type(obj.get("id")) is str
                and type(obj.get("previous_response_id")) is not str
            ):  # (a run: `_classify`, with what it cannot name left out)
                mine, runs, memoize = self._classify_run(item, obj)
            else:
                mine, runs, memoize = self._classify(item)
            if memoize:
                if len(memo) >= 4096:
                    memo.clear()
                memo[id(item.obj)] = (item.obj, mine, runs)  # type: ignore[union-attr]
            if not mine:
                if replay is not None:
                    replay.foresee(item)
                if type(item) is Exchange:
                    ex = _clock_only(item)
                    if ex is not None:
                        self.clock_only += 1
                        yield ex
                continue
            yield item
            if type(item) is InputProblem and item.code == "input.unusable":
                self.journal.events.append(((index, n), "unusable", item.loc.file))
            for rid in runs:
                if rid in settled:
                    mentions.setdefault(rid, []).append((index, n))

    @property
    def _repeated(self) -> Callable[[dict[str, Any]], bool]:
        """The reader's hook for a repeated line's object in a shard of threads:
        `LineFilter.again` (taken with no `Snapshot` made when `_owned` would only have passed
        it to the engine's count of a repeat, or foreseen it)."""
        return self.filter.again

    def _classify_run(self, item: Item, obj: dict[str, Any]) -> tuple[bool, tuple[str, ...], bool]:
        """`_classify` of a run object's snapshot (no ``previous_response_id``): it names its
        thread and itself, no step or message, no stream."""
        oid: str = obj["id"]
        tid = obj.get("thread_id")
        keys = ["t:" + tid, "r:" + oid] if type(tid) is str else ["r:" + oid]
        if self.filter.pending is not None and self._verify(item, keys):
            owner = self.router.owner  # type: ignore[union-attr]  # (a hint: a shard of threads)
            for k in keys:  # (`route`: the pre-filter found them this shard's, and no conflict)
                owner.setdefault(k, self.shard)
            return True, (oid,), True
        if self.router is None:
            self.journal.keys.update(keys)
            return True, (oid,), True
        return self.router.route(item, keys) == self.shard, (oid,), True

    def _classify(self, item: Item) -> tuple[bool, tuple[str, ...], bool]:
        """Whether this shard checks `item`, the runs it names, whether to memoize that."""
        journal = self.journal
        if type(item) is TraceInfo:
            self.fmt = self.fmt or item.format
        keys, children = item_keys(item)
        if self.filter.pending is not None:
            self._verify(item, keys)
        runs = tuple(k[2:] for k in keys if k[0] == "r")
        if self.streams.see(item) and self.router is not None:
            journal.doubts.append(f"{item.loc}: a stream replaced while open")
        for c in children:
            self.child_count += 1
            seen_at = self.child_seen.get(c)
            if seen_at is not None and self.child_count - seen_at >= MEMORY // 2:
                journal.doubts.append(f"{item.loc}: step or message {c} seen again late")
            self.child_seen[c] = self.child_count
        if self.router is None:
            journal.keys.update(keys)
            mine = True
        else:
            mine = self.router.route(item, keys) == self.shard
        return mine, runs, type(item) is Snapshot and not children

    def _verify(self, item: Item, keys: list[str]) -> bool:
        """Check the decoded item of a line this shard checks against its bytes' hint: the
        other shards took the line by the hint (`LineFilter`); if they read it otherwise, doubt.
        True when they read it right."""
        pending = self.filter.pending
        assert pending is not None
        self.filter.pending = None
        line, hinted, status = pending
        if not (
            type(item) is Snapshot
            and item.loc.line == line
            and keys == hinted
            and type(item.obj) is dict
            and item.obj.get("object") == "thread.run"
            and item.obj.get("status") == status
        ):
            self.journal.doubts.append(f"{item.loc}: a line read otherwise than its bytes told")
            return False
        return True

    def _verified(self, obj: dict[str, Any], loc: Location, keys: list[str]) -> bool:
        """`_verify` of a run object the reader offers, with its location."""
        pending = self.filter.pending
        assert pending is not None
        self.filter.pending = None
        line, hinted, status = pending
        if loc.line == line and keys == hinted and obj.get("status") == status:
            return True
        self.journal.doubts.append(f"{loc}: a line read otherwise than its bytes told")
        return False

    def _unverified(self, path: str) -> None:
        """A line this shard checks by its hint gave no object: the other shards took one."""
        pending = self.filter.pending
        assert pending is not None
        line = pending[0]
        self.filter.pending = None
        self.journal.doubts.append(
            f"{Location(path, line)}: a line read otherwise than its bytes told"
        )


class FileItems:
    """A file's items, read lazily with `conformance.readers.read` in the shape the check
    decodes, as one process reads them; `check_shard` sets `repeated`, the reader's hook for
    a repeated line's object, `observed`, its hook for a new one, and, for a shard of
    threads, `select`, its pre-filter of lines."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.repeated: Callable[[dict[str, Any]], bool] | None = None
        self.observed: Callable[[dict[str, Any], Location, int], bool] | None = None
        self.select: Callable[[bytes], bool] | None = None

    def __iter__(self) -> Iterator[Item]:
        return read(
            self.path,
            shape=CHECKED,
            repeated=self.repeated,
            observed=self.observed,
            select=self.select,
        )


def numbered_files(paths: Iterable[tuple[int, str]]) -> Iterator[tuple[int, str, Iterable[Item]]]:
    """``(index, path, items)`` for `check_shard`: each file's `FileItems`."""
    for index, path in paths:
        yield index, path, FileItems(path)


def unusable_violation(strictness: Strictness, path: str, message: str) -> Violation:
    """The ``input.unusable`` finding the check reports for a file with nothing to check."""
    found: list[Violation] = []

    def emit(event: Event) -> None:
        if isinstance(event, ViolationFound):
            found.append(event.violation)

    Checker(strictness, emit=emit).feed(InputProblem(Location(path), "input.unusable", message))
    return found[0]
