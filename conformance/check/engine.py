"""The checking engine: reads items in observation order, keeps state per open object, emits
events.

`Checker` coordinates parts with narrow interfaces: `moves` (status changes against the
model), `fields` (field rules), `links` (steps and messages against their run), `clock`
(the server's clock, expiry), and per lifecycle its traffic part (`parts`; the Assistants
run's: client actions and replies, `actions`, and streams, `streams`). Findings go to one
sink (`findings`). State is kept only for open runs, steps, messages and streams: a run's state
is dropped once it is terminal and its steps and messages have settled (a bounded memory of
closed ids still catches a run that leaves its terminal status later). Everything it knows
about statuses, edges, grades, field rules and links it asks the model.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from typing import Any

from runmodel import LIFECYCLES, LINKS, MESSAGE, RUN, STEP, Lifecycle, Strictness

from ..observations import Exchange, InputProblem, Item, Location, Snapshot, StreamEvent
from .clock import EXPIRY_GRACE, ServerClock
from .fields import FieldRules
from .findings import Findings, Where, finding
from .links import Links
from .moves import Moves
from .parts import Part, registered_parts
from .results import (
    CheckFinished,
    CheckStarted,
    CheckSummary,
    Coverage,
    Event,
    RunChecked,
    RunResult,
    Severity,
    Violation,
)
from .state import NO_TRIGGERS, ChildState, Recent, RunState
from .streams import OBJECTS

__all__ = ["EXPIRY_GRACE", "MEMORY", "WINDOW", "Checker", "check", "edge_coverage"]

MEMORY = 65_536
"""Closed runs, settled children and finished streams a checker remembers (id → status), by
default."""
WINDOW = 256
"""Settled runs a checker keeps whole a little longer, by default (a re-poll of a finished run is
cheap)."""

_HINTS = {
    "status.unknown": "A newer API may have added this status: record it and extend the model.",
    "input": "Fix or re-record this input; everything else was still checked.",
}

_ERR, _WARN = Severity.ERROR, Severity.WARNING
_RUN_ACTIVE, _RUN_TERMINAL = RUN.active, RUN.terminal
_STATUS = {s: s for s in RUN.statuses}
_RUN_STATUSES = frozenset(RUN.statuses)
_LEVELS = (Strictness.STRICT, Strictness.PERMISSIVE, None)
_CHILDREN = frozenset(link.lifecycle for link in LINKS)
"""The lifecycles whose objects belong to a run (steps, messages); the others' objects are
tracked on their own, as runs are (e.g. a response)."""


def _v(code: str, severity: Severity, message: str, where: Where, **details: Any) -> Violation:
    return finding(_HINTS, code, severity, message, where, **details)


def _loose(item: Any) -> Any:
    """`item` as it is: its fields are read as they are, not as they are declared (a compiled
    checker would otherwise refuse an item whose object is not the dict it should be)."""
    return item


def _ids(calls: Any) -> list[str]:
    if type(calls) is not list:
        return []
    return [c["id"] for c in calls if type(c) is dict and type(c.get("id")) is str]


def _run_calls(obj: dict[str, Any]) -> tuple[str, ...]:
    """The tool call ids of a run's required_action (empty when there is none)."""
    ra = obj.get("required_action")
    sto = ra.get("submit_tool_outputs") if type(ra) is dict else None
    return tuple(_ids(sto.get("tool_calls"))) if type(sto) is dict else ()


def _step_calls(obj: dict[str, Any]) -> frozenset[str]:
    details = obj.get("step_details")
    return frozenset(_ids(details.get("tool_calls"))) if type(details) is dict else frozenset()


class Checker:
    """The checking engine: `feed` it items in observation order, then call `finish`.

    Events go to `emit` as they happen. Memory grows with the number of open runs, steps,
    messages and streams, not with the input: a settled run (terminal, its steps and messages
    settled) is kept whole until `window` more runs settle, then closed (`RunChecked`); of a
    closed run only its status is remembered, for at least the `memory` // 2 most recent ones.
    `quick=False` judges every observation's field rules one by one (the same findings, slower:
    the reference the quick path is tested against). `wants_clean(run_id)`, when given, is asked
    before a run that closes without violations is emitted: False skips it (for a report that
    keeps failing runs only, `Report.wants`: making the result was most of closing a clean run).
    """

    def __init__(
        self,
        strictness: Strictness = Strictness.STRICT,
        *,
        emit: Callable[[Event], None],
        expiry_grace: float = EXPIRY_GRACE,
        memory: int = MEMORY,
        window: int = WINDOW,
        fail_on: Severity = Severity.ERROR,
        quick: bool = True,
        observer: Callable[[str, str], None] | None = None,
        wants_clean: Callable[[str], bool] | None = None,
    ) -> None:
        self.strictness = strictness
        # told ("open", run id), ("settle", run id), ("need", edge): what merging shards replays
        self._observer = observer
        self.fail_on = fail_on
        self.memory = memory
        self.items = 0
        """Items fed so far."""
        self.problems = 0
        """Input problems fed so far."""
        self.checkable = 0
        """Items fed so far that gave something to check: an observation of a run, run step or
        message, or a request on one's lifecycle (create, submit, cancel, a message)."""
        self.findings = Findings(emit, observer)
        """Every finding, through `Findings.add`."""
        self._emit = emit
        self._wants_clean = wants_clean
        self.moves = Moves(strictness, self.findings)
        """Judges status changes; counts the edges exercised."""
        self.rules = FieldRules(self.findings, quick=quick)
        """Judges field rules."""
        self.links = Links(self.findings)
        """Judges steps and messages against their run."""
        self.clock = ServerClock(strictness, self.findings, expiry_grace)
        """The server's clock; judges expiry."""
        self._plans = self.rules.plans
        self._run_plan = self._plans[RUN.name]
        self._window = window
        self._runs: dict[str, RunState] = {}
        self._children: dict[tuple[str, str], ChildState] = {}
        self._closed: Recent[str, str] = Recent(memory)  # closed run -> its last status
        self._closed_children: Recent[tuple[str, str], str] = Recent(memory)
        self._active: dict[str, str] = {}  # thread id -> its active run's id
        self._settled: OrderedDict[str, None] = OrderedDict()  # settled runs, oldest first
        self._observations = 0
        # lifecycle -> status -> observations judged (an identical repeat is not judged again)
        self._obs: dict[str, dict[Any, int]] = {name: {} for name in LIFECYCLES}
        self._pairs: dict[str, int] = {}  # lifecycle -> changed observations with a previous one
        self._run_obs = self._obs[RUN.name]  # (the hot path's: runs)
        self._run_pairs = 0  # (the hot path's: `_pairs` of runs)
        self._runs_seen = 0
        self._unusable: dict[str, None] = {}
        self._parts: tuple[Part, ...] = tuple(make(self) for _, make in registered_parts())
        emit(CheckStarted(strictness))

    # -- items ---------------------------------------------------------------------------------

    @property
    def usable(self) -> int:
        """Items fed so far that were not input problems (see `checkable` for what could be
        checked)."""
        return self.items - self.problems

    def feed(self, item: Item) -> None:
        """Check one item against everything seen before it."""
        self.items += 1
        if isinstance(item, Snapshot):
            obj = _loose(item).obj  # (whatever a reader made of it, checked below)
            if type(obj) is dict and obj.get("object") == "thread.run":  # the hot path
                self._observe_run(obj, item.loc, item.seq, item.wall, False)
            else:
                self.observe(obj, item.loc, item.seq, item.wall, False)
        elif isinstance(item, Exchange):
            self.clock.observe(item)
            for part in self._parts:
                if part.exchange(item):
                    break
        elif isinstance(item, StreamEvent):
            for part in self._parts:
                if part.stream_event(item):
                    break
            if type(item.data) is dict:
                self.observe(item.data, item.loc, item.seq, item.wall, True)
        elif isinstance(item, InputProblem):
            self.problems += 1
            if item.code == "input.unusable":
                self._unusable[item.loc.file] = None
            where = (None, None, item.loc, None)
            self.findings.add(None, _v(item.code, _ERR, item.message, where, hint=_HINTS["input"]))

    def server_time(self, loc: Location, wall: float | None) -> float | None:
        """The server's time at `wall`, by the offset its last Date header in that file showed
        (the wall time itself where none did); None when the item has no wall time."""
        return self.clock.server_time(loc, wall)

    def refusal_observed(self) -> None:
        """Count a documented refusal that names a run's status as an observation of it."""
        self._observations += 1

    def mark_unusable(self, file: str) -> None:
        """Record that `file` could not be used at all (its problems were fed already): exit 2."""
        self._unusable[file] = None

    def close_run(self, oid: str) -> None:
        """Close run `oid` now if it is open, as the window of settled runs does (a shard of a
        larger input closes its runs when the whole input's window would)."""
        run = self._runs.get(oid)
        if run is not None:
            self._close(run)

    def feed_all(self, items: Iterable[Item]) -> None:
        """`feed` every item."""
        feed, observe_run, snapshot = self.feed, self._observe_run, Snapshot
        for item in items:
            if type(item) is snapshot:  # `feed`'s hot path, inlined
                obj = _loose(item).obj
                if type(obj) is dict and obj.get("object") == "thread.run":
                    self.items += 1
                    observe_run(obj, item.loc, item.seq, item.wall, False)
                    continue
            feed(item)

    def repeated(self, obj: dict[str, Any]) -> bool:
        """Take a snapshot without wall time that is its run's last observed object itself (a
        reader's byte-identical line): True when `feed` would only have counted it, and this
        counted it; False when it must be fed (another object, a move or a trigger between)."""
        run = self._runs.get(obj.get("id", ""))  # (its last object itself: a run object)
        if run is None or run.last is not obj or run.triggers or obj.get("status") != run.status:
            return False
        self.items += 1
        self._observations += 1
        self.checkable += 1
        run.observations += 1
        run.via_http = False
        return True

    def observed(self, obj: dict[str, Any], loc: Location, seq: int) -> bool:
        """Take a snapshot without wall time from a reader (`conformance.readers.read`'s
        hook), as `feed` would take it as a `Snapshot`: always True (taken)."""
        self.items += 1
        if obj.get("object") == "thread.run":
            self._observe_run(obj, loc, seq, None, False)
        else:
            self.observe(obj, loc, seq, None, False)
        return True

    def finish(self) -> CheckSummary:
        """End of input: judge what only the end shows, close every run, emit the summary."""
        for part in self._parts:
            part.finish()
        for child in self._children.values():
            run = self._runs.get(child.run_id) if child.run_id else None
            if run is not None:
                self.links.judge(run, child, None, None, end=True)
        self._children.clear()
        for run in list(self._runs.values()):
            self._close(run)
        found = self.findings
        summary = CheckSummary(
            strictness=self.strictness,
            items=self.items,
            observations=self._observations,
            runs=self._runs_seen,
            failing_runs=len(found.failing),
            errors=found.errors,
            warnings=found.warnings,
            input_problems=self.problems,
            unusable_files=tuple(self._unusable),
            needs=tuple(found.needs),
            coverage=self.coverage(),
            fail_on=self.fail_on,
        )
        self._emit(CheckFinished(summary))
        return summary

    def coverage(self) -> Coverage:
        """Edges, rules and links exercised so far, with counts."""
        pairs = dict(self._pairs)
        pairs[RUN.name] = pairs.get(RUN.name, 0) + self._run_pairs
        rules = self.rules.coverage(self._obs, pairs)
        edges = {k: dict(v) for k, v in self.moves.edges.items()}
        return Coverage(edges=edges, rules=rules, links=dict(self.links.counts))

    # -- what the parts ask (`parts.Host`) -----------------------------------------------------

    def run(self, oid: str) -> RunState:
        """The run's state (opened, if it is not open)."""
        return self._runs.get(oid) or self._open_run(oid)

    def tracked(self, lifecycle: str, oid: str) -> RunState:
        """The state of `oid`, an object of a lifecycle tracked on its own (a run, a
        response): opened, if it is not open."""
        return self._runs.get(oid) or self._open_run(oid, LIFECYCLES[lifecycle])

    def status_of(self, oid: str) -> str | None:
        """The last known status of run (or other object tracked on its own) `oid`, open or
        closed; None when it was not seen."""
        state = self._runs.get(oid)
        return state.status if state is not None else self._closed.get(oid)

    def observe_status(self, run: RunState, status: str, loc: Location, seq: int | None) -> None:
        """A status a reply names without carrying the run (a refusal's text): a move."""
        self.moves.move(run, run.lc, run, status, (), loc, seq, False)
        self._lock(run)

    def active_run(self, thread_id: str) -> RunState | None:
        """The thread's active run as last observed, if any."""
        active = self._active.get(thread_id)
        return self.run(active) if active is not None else None

    def is_settled(self, lifecycle: str, oid: str) -> bool:
        """Whether a step or message is known to have settled."""
        child = self._children.get((lifecycle, oid))
        if child is not None:
            return child.status in child.lc.terminal
        return (lifecycle, oid) in self._closed_children

    # -- objects -------------------------------------------------------------------------------

    def observe(
        self, body: Any, loc: Location, seq: int | None, wall: float | None, http: bool
    ) -> None:
        """Observe the runs, steps and messages `body` carries (itself, or a list's data)."""
        if type(body) is not dict:
            return
        kind = body.get("object")
        if type(kind) is str and (kind == "thread.run" or kind in OBJECTS):
            status = body.get("status")
            if status is not None and type(status) is not str:
                self.findings.add(None, _malformed_status(kind, body, status, loc, seq))
            elif kind == "thread.run":
                self._observe_run(body, loc, seq, wall, http)
            elif OBJECTS[kind].name in _CHILDREN:
                self._observe_child(OBJECTS[kind], body, loc, seq)
            else:
                self._observe_own(OBJECTS[kind], body, loc, seq, http)
        elif kind == "list" and type(body.get("data")) is list:
            for element in body["data"]:
                self.observe(element, loc, seq, wall, http)

    def _observe_run(
        self, obj: dict[str, Any], loc: Location, seq: int | None, wall: float | None, http: bool
    ) -> None:
        self._observations += 1
        self.checkable += 1
        oid = obj.get("id")
        if type(oid) is not str:
            self.findings.add(None, _unidentified(RUN, loc, seq))
            return
        run = self._runs.get(oid) or self._open_run(oid)
        run.observations += 1
        status: Any = obj.get("status")
        last = run.last
        if (
            status == run.status
            and (obj is last or (last is not None and obj == last))
            and not run.triggers
        ):
            # the same object again (polling): only the clock can have made it wrong
            if wall is not None and status in _RUN_ACTIVE:
                self.clock.expiry(run, obj, status, wall, loc, seq)
            run.via_http = http
            return
        counts = self._run_obs
        counts[status] = counts.get(status, 0) + 1
        if run.first_loc is None:
            run.first_loc = loc
            tid = obj.get("thread_id")
            run.thread_id = tid if type(tid) is str else run.thread_id
        if status in _RUN_STATUSES:
            calls = _run_calls(obj) if obj.get("required_action") is not None else ()
            self.moves.move(run, RUN, run, status, calls, loc, seq, http, obj)
            run.calls = calls
            if wall is not None and status in _RUN_ACTIVE:
                self.clock.expiry(run, obj, status, wall, loc, seq)
            tid = run.thread_id
            if tid is not None:  # `_lock`, inlined
                if status in _RUN_ACTIVE:
                    self._active[tid] = oid
                elif self._active.get(tid) == oid:
                    del self._active[tid]
        else:
            self.findings.add(run, _unknown(run, RUN, oid, status, loc, seq))
        if last is not None:
            self._run_pairs += 1
        run.seen = self.rules.judge(
            run, oid, self._run_plan, status, obj, last, run.said, run.seen, loc, seq
        )
        run.last, run.said = obj, status
        run.via_http = http
        if run.triggers:
            run.triggers = NO_TRIGGERS
        if run.status in _RUN_TERMINAL and not run.children:
            self._settled_run(run)

    def _observe_own(
        self, lc: Lifecycle, obj: dict[str, Any], loc: Location, seq: int | None, http: bool
    ) -> None:
        """An object of a lifecycle tracked on its own, as `_observe_run` observes a run (what
        is the Assistants run's alone, its thread, tool calls and expiry, left out)."""
        self._observations += 1
        self.checkable += 1
        oid = obj.get("id")
        if type(oid) is not str:
            self.findings.add(None, _unidentified(lc, loc, seq))
            return
        own = self._runs.get(oid) or self._open_run(oid, lc)
        own.observations += 1
        status: Any = obj.get("status")
        last = own.last
        if status == own.status and (obj is last or obj == last) and not own.triggers:
            own.via_http = http  # the same object again (polling)
            return
        counts = self._obs[lc.name]
        counts[status] = counts.get(status, 0) + 1
        if own.first_loc is None:
            own.first_loc = loc
        if status in lc:
            self.moves.move(own, lc, own, status, (), loc, seq, http, obj)
        else:
            self.findings.add(own, _unknown(own, lc, oid, status, loc, seq))
        if last is not None:
            self._pairs[lc.name] = self._pairs.get(lc.name, 0) + 1
        own.seen = self.rules.judge(
            own, oid, self._plans[lc.name], status, obj, last, own.said, own.seen, loc, seq
        )
        own.last, own.said = obj, status
        own.via_http = http
        if own.triggers:
            own.triggers = NO_TRIGGERS
        if own.status in lc.terminal:
            self._settled_run(own)

    def _lock(self, run: RunState) -> None:
        """Keep the thread → active run map current (a thread is locked while its run is active)."""
        tid = run.thread_id
        if tid is None:
            return
        if run.status in _RUN_ACTIVE:
            self._active[tid] = run.oid
        elif self._active.get(tid) == run.oid:
            del self._active[tid]

    def _observe_child(
        self, lc: Lifecycle, obj: dict[str, Any], loc: Location, seq: int | None
    ) -> None:
        self._observations += 1
        self.checkable += 1
        oid = obj.get("id")
        if type(oid) is not str:
            self.findings.add(None, _unidentified(lc, loc, seq))
            return
        rid = obj.get("run_id")
        rid = rid if type(rid) is str else None
        key = (lc.name, oid)
        child = self._children.get(key)
        if child is None:
            closed = self._closed_children.pop(key, None)
            child = self._children[key] = ChildState(lc, oid, rid, closed)
        run = self.run(rid) if rid is not None else None
        status: Any = obj.get("status")
        last = child.last
        if obj is last or (last is not None and obj == last):
            self._settle(child, run)
            return
        counts = self._obs[lc.name]
        counts[status] = counts.get(status, 0) + 1
        if lc is STEP:
            kind = obj.get("type")
            child.kind = kind if type(kind) is str else None
            child.calls = _step_calls(obj)
        if status in lc:
            self.moves.move(run, lc, child, status, (), loc, seq, False, obj)
            if run is not None:
                self.links.judge(run, child, loc, seq)
        elif not (status is None and lc is MESSAGE):  # user messages come back with status null
            self.findings.add(run, _unknown(run, lc, oid, status, loc, seq))
        if last is not None:
            self._pairs[lc.name] = self._pairs.get(lc.name, 0) + 1
        plan = self._plans[lc.name]
        child.seen = self.rules.judge(
            run, oid, plan, status, obj, last, child.said, child.seen, loc, seq
        )
        child.last, child.said = obj, status
        self._settle(child, run)

    def _settle(self, child: ChildState, run: RunState | None) -> None:
        """Keep an open child; drop a settled one, closing a run it was holding open."""
        key = (child.lc.name, child.oid)
        if child.status in child.lc.active:
            if run is not None:
                if run.children is None:
                    run.children = set()
                run.children.add(key)
            return
        del self._children[key]
        if child.status is not None:
            self._closed_children.add(key, child.status)
        if run is not None:
            if run.children:
                run.children.discard(key)
            if run.status in _RUN_TERMINAL and not run.children:
                self._settled_run(run)

    def _open_run(self, oid: str, lc: Lifecycle = RUN) -> RunState:
        closed = self._closed.pop(oid, None)
        run = RunState(oid, closed, lc)
        self._runs[oid] = run
        if closed is None:
            self._runs_seen += 1
        if self._observer is not None:
            self._observer("open", oid)
        return run

    def _settled_run(self, run: RunState) -> None:
        """A run is terminal with no open steps or messages: close it once `window` more did."""
        settled = self._settled
        if run.oid not in settled:
            if self._observer is not None:
                self._observer("settle", run.oid)
            settled[run.oid] = None
            if len(settled) > self._window:
                oldest = self._runs.get(settled.popitem(last=False)[0])
                if oldest is not None:
                    self._close(oldest)

    def _close(self, run: RunState) -> None:
        self._settled.pop(run.oid, None)
        del self._runs[run.oid]
        if run.status is not None:  # (the model's own str)
            self._closed.add(run.oid, _STATUS.get(run.status, run.status))
        found = run.found
        if not found and self._wants_clean is not None and not self._wants_clean(run.oid):
            return
        violations = (
            tuple(v if n == 1 else replace(v, count=n) for v, n in found.values()) if found else ()
        )
        result = RunResult(
            run.oid,
            run.thread_id,
            run.first_loc,
            run.observations,
            tuple(run.statuses),
            run.status,
            _LEVELS[run.level],
            tuple(run.needs or ()),
            violations,
            run.lc.name,
        )
        self._emit(RunChecked(result))


def _unknown(
    run: RunState | None,
    lc: Lifecycle,
    oid: str,
    status: Any,
    loc: Location,
    seq: int | None,
) -> Violation:
    """An object whose status the model does not know (checking goes on)."""
    what = "has no status" if status is None else f"has status {status!r}"
    return _v(
        "status.unknown",
        _WARN,
        f"{lc.name} {oid} {what}, unknown to the model",
        (run.oid if run else None, oid, loc, seq),
        observed=repr(status),
        allowed=f"the model knows: {', '.join(lc.statuses)}",
    )


def _malformed_status(
    kind: str, obj: dict[str, Any], status: Any, loc: Location, seq: int | None
) -> Violation:
    """A reply whose object has a status that is not a string: reported, and skipped."""
    oid = obj.get("id") if type(obj.get("id")) is str else None
    return _v(
        "input.bad_entry",
        _ERR,
        f"a {kind} object ({oid or 'no id'}) whose status is {type(status).__name__}"
        f" {status!r:.60}, not a string; skipped",
        (None, oid, loc, seq),
        observed=f"status {status!r:.60}",
        allowed="a status is a string",
        hint=_HINTS["input"],
    )


def _unidentified(lc: Lifecycle, loc: Location, seq: int | None) -> Violation:
    """An object without an id: it cannot be tracked."""
    return _v(
        "input.unidentified_object",
        _ERR,
        f"a {lc.name} object without an id",
        (None, None, loc, seq),
        observed="no string 'id'",
        allowed="every object carries its id",
        hint="Record whole objects: one without an id cannot be tracked.",
    )


def check(
    items: Iterable[Item],
    strictness: Strictness = Strictness.STRICT,
    *,
    expiry_grace: float = EXPIRY_GRACE,
) -> Iterator[Event]:
    """Check `items`, yielding the engine's events as they happen and `CheckFinished` last."""
    pending: deque[Event] = deque()
    checker = Checker(strictness, emit=pending.append, expiry_grace=expiry_grace)
    feed = checker.feed
    for item in items:
        feed(item)
        while pending:
            yield pending.popleft()
    checker.finish()
    while pending:
        yield pending.popleft()


def edge_coverage(
    items: Iterable[Item], strictness: Strictness = Strictness.STRICT
) -> dict[str, dict[tuple[str, str], int]]:
    """``{lifecycle: {(source, dest): count}}``: the edges `items` exercised (for diagrams)."""
    checker = Checker(strictness, emit=lambda _: None)
    checker.feed_all(items)
    return {k: dict(v) for k, v in checker.finish().coverage.edges.items()}
