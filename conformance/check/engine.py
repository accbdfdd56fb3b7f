"""The checking engine: reads items in observation order, keeps state per open object, emits
events.

State is kept only for open runs, steps, messages and streams: a run's state is dropped once it
is terminal and its steps and messages have settled (a bounded memory of closed ids still
catches a run that leaves its terminal status later). Everything it knows about statuses,
edges, grades, field rules and links it asks the model; the API's error texts come from
`conformance.errors`; the streaming protocol is judged by `conformance.check.streams`.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import timezone
from email.utils import parsedate_to_datetime
from operator import itemgetter, ne
from typing import Any, Generic, TypeVar

from runmodel import (
    LINKS,
    MARKS,
    MESSAGE,
    RULES,
    RUN,
    STEP,
    Actor,
    Edge,
    Evidence,
    Lifecycle,
    Strictness,
)
from runmodel._rules import FieldRule, Link

from ..observations import Exchange, InputProblem, Item, Location, Snapshot, StreamEvent
from .actions import judge_exchange
from .results import (
    CheckFinished,
    CheckStarted,
    Coverage,
    Event,
    RunChecked,
    RunResult,
    Severity,
    Summary,
    Violation,
    ViolationFound,
)
from .streams import OBJECTS, StreamJudge

__all__ = ["EXPIRY_GRACE", "Checker", "check", "edge_coverage"]

EXPIRY_GRACE = 60.0
"""Seconds past ``expires_at`` before an active run is flagged: by the server's clock where a
reply's ``Date`` header showed it (1-second resolution), else by the recorder's wall clock."""

_MEMORY = 65_536  # closed runs, settled children, finished streams remembered (id → status)
_SETTLED = 256  # settled runs kept whole a little longer: a re-poll of a finished run is cheap

_HINTS = {
    "illegal_transition": "If this is real API behaviour, keep the trace and add the edge, "
    "with its evidence, to the model.",
    "needs_permissive": "Run with --strictness permissive to admit inferred and disputed "
    "edges, or find evidence that grades them documented or observed.",
    "terminal_left": "Terminal statuses absorb: look for a stale cache, a reused id or a "
    "reordered log.",
    "moved_without_client": "Only the client may take this edge, and the recorded traffic has "
    "no such request between the two observations.",
    "expiry": "The server should expire a run that outlives expires_at.",
    "status.unknown": "A newer API may have added this status: record it and extend the model.",
    "link": "A step or message settles with its run.",
    "input": "Fix or re-record this input; everything else was still checked.",
}

_ERR, _WARN = Severity.ERROR, Severity.WARNING
_RUN_ACTIVE, _RUN_TERMINAL = RUN.active, RUN.terminal
_STATUS = {s: s for s in RUN.statuses}
_RUN_STATUSES = frozenset(RUN.statuses)
_LEVELS = (Strictness.STRICT, Strictness.PERMISSIVE, None)
_MOVES = (".illegal_transition", ".terminal_left", ".moved_without_client")
_Where = tuple[str | None, str | None, Location | None, int | None]
"""Where a finding is: run id, subject (run, step or message id), location, seq."""


def _v(code: str, severity: Severity, message: str, where: _Where, **details: Any) -> Violation:
    details.setdefault("hint", _HINTS.get(code, ""))
    return Violation.of(code, severity, message, where, **details)


def _what(prev: str, cur: str, nonempty: bool) -> str:
    """A status change as findings show it."""
    return f"{prev} → {cur}" + (" (a new round)" if nonempty else "")


def _at(run: _Run | None, obj: _Run | _Child, loc: Location | None, seq: int | None) -> _Where:
    """Where a status change was seen (built only for a finding)."""
    return (run.oid if run else None, obj.oid, loc, seq)


def _sev(ev: Evidence) -> Severity:
    return _ERR if ev.trusted else _WARN


def _edges(path: Iterable[Edge]) -> tuple[str, ...]:
    return tuple(str(e) for e in path)


def _untrusted(path: Iterable[Edge]) -> tuple[str, ...]:
    return tuple(str(e) for e in path if not e.evidence.trusted)


def _weakest(path: Iterable[Edge]) -> Evidence | None:
    return next((e.evidence for e in path if not e.evidence.trusted), None)


def _out(lc: Lifecycle, status: str, lv: Strictness) -> str:
    out = lc.out(status, lv)
    if not out:
        return "nothing (terminal)" if status in lc.terminal else "nothing at this level"
    return "; ".join(str(e) for e in out)


def _explain(
    lc: Lifecycle,
    a: str,
    b: str,
    lv: Strictness,
    nonempty: bool,
    fired: frozenset[str] | None,
    unvisited: frozenset[str] = frozenset(),
) -> tuple[Edge, ...] | None:
    """The path of highest grade from a to b at lv (the model's `best_path`: at permissive, a
    change documented edges explain is not credited to an inferred shortcut); with `fired`,
    client edges only for those triggers; never through a status in `unvisited` (one the
    observation proves the object was not in, `runmodel.MARKS`)."""
    if fired is None and not unvisited:
        return lc.best_path(a, b, lv, nonempty=nonempty)
    return lc.best_path(
        a,
        b,
        lv,
        nonempty=nonempty,
        allow=lambda e: (
            (e.actor is not Actor.CLIENT or fired is None or e.trigger in fired)
            and (e.dest == b or e.dest not in unvisited)
        ),
    )


def _unvisited(lc: Lifecycle, seen: Mapping[str, Any] | None) -> frozenset[str]:
    """The statuses an observation proves its object was never in: a field that a visit
    would have left set for good is null (`runmodel.MARKS`)."""
    if seen is None:
        return frozenset()
    marks = MARKS[lc.name]
    return frozenset(
        s for s, fields in marks.items() if fields and any(seen.get(f) is None for f in fields)
    )


def _ids(calls: Any) -> list[str]:
    if type(calls) is not list:
        return []
    return [c["id"] for c in calls if type(c) is dict and type(c.get("id")) is str]


def _run_calls(obj: Mapping[str, Any]) -> tuple[str, ...]:
    """The tool call ids of a run's required_action (empty when there is none)."""
    ra = obj.get("required_action")
    sto = ra.get("submit_tool_outputs") if type(ra) is dict else None
    return tuple(_ids(sto.get("tool_calls"))) if type(sto) is dict else ()


def _step_calls(obj: Mapping[str, Any]) -> frozenset[str]:
    details = obj.get("step_details")
    return frozenset(_ids(details.get("tool_calls"))) if type(details) is dict else frozenset()


# -- rules and links, planned per lifecycle and status -----------------------------------------


@dataclass(frozen=True, slots=True)
class _Rule:
    """A rule ready to run: its bound method, the fields it reads, its code and severity."""

    call: Callable[..., str | None]
    fields: frozenset[str]
    rule: FieldRule
    code: str
    severity: Severity


_K = TypeVar("_K")
_V = TypeVar("_V")
_Values = Callable[[Mapping[str, Any]], tuple[Any, ...]]
"""Some fields' values of an object, fetched in one C call (`operator.itemgetter`); KeyError
when one is missing."""


@dataclass(frozen=True, slots=True)
class _Quick:
    """A status's null and non-null rules (`FieldRule.null`) as one test over a fixed tuple of
    fields, the status's other stateless rules, and the watched fields' values.

    `values` fetches the `n` fields that must be null, then the fields that must be set, up to
    `k`, then the plan's watched fields. The test holds when the first `n` values are None and
    the next are not; then none of these rules can fail and only `others` need to run. When it
    fails (or a field is missing), every rule runs one by one, for the exact findings.
    """

    values: _Values
    nulls: tuple[None, ...]
    n: int
    k: int
    others: tuple[_Rule, ...]


@dataclass(frozen=True, slots=True)
class _Pair:
    """A change of status (previous, status): the new status's quick test, the other rules that
    newly apply (always run), and, per pattern of changed watched fields, the rules to run then."""

    quick: _Quick
    fresh: tuple[_Rule, ...]
    carried: tuple[_Rule, ...]
    stateful: tuple[_Rule, ...]
    todo: dict[tuple[bool, ...], tuple[tuple[_Rule, ...], tuple[_Rule, ...]]]

    def rules(
        self, watched: tuple[str, ...], changed: tuple[bool, ...]
    ) -> tuple[tuple[_Rule, ...], tuple[_Rule, ...]]:
        """The carried and stateful rules that read a changed field (kept: one entry per
        pattern, at most ``2 ** len(watched)``)."""
        names = {f for f, c in zip(watched, changed, strict=True) if c}
        todo = self.todo[changed] = (
            tuple(r for r in self.carried if not r.fields.isdisjoint(names)),
            tuple(r for r in self.stateful if not r.fields.isdisjoint(names)),
        )
        return todo


@dataclass(frozen=True, slots=True)
class _Plan:
    """A lifecycle's rules, arranged so that a new observation runs only the rules it can change.

    Rules are functions of their declared fields (and, for applicability, of the status). So,
    comparing an observation with the previous one of the same object: a stateless rule that
    applied to the previous status too, and a stateful rule, can only find something new when one
    of their fields changed; a stateless rule that newly applies is always run. Null and non-null
    rules are first tested all at once (`_Quick`); the other rules' fields (`watched`) are
    compared all at once.
    """

    fields: tuple[str, ...]  # every field a rule reads
    first: dict[str, tuple[_Rule, ...]]  # status -> its stateless rules
    fresh: dict[tuple[str, str], tuple[_Rule, ...]]  # (previous, status) -> newly applying
    carried: dict[tuple[str, str], tuple[_Rule, ...]]  # (previous, status) -> applying at both
    stateful: tuple[_Rule, ...]
    quick: dict[str, _Quick]  # status -> its quick test
    pairs: dict[tuple[str, str], _Pair]  # (previous, status) -> its quick test, other rules
    watched: tuple[str, ...]  # the fields the rules outside the quick test read (two at least)
    watch: _Values  # their values


def _plan(lc: Lifecycle) -> _Plan:
    rules = RULES.get(lc.name, ())

    def ready(r: FieldRule) -> _Rule:
        code = f"{lc.name}.field.{r.code.removeprefix(lc.name + '.')}"
        return _Rule(
            r.change if r.stateful else r.snapshot, frozenset(r.fields), r, code, _sev(r.evidence)
        )

    stateless = [ready(r) for r in rules if not r.stateful]
    stateful = tuple(ready(r) for r in rules if r.stateful and not _identity(r))

    def applies(r: _Rule, status: str) -> bool:  # empty `statuses`: every status
        return not r.rule.statuses or status in r.rule.statuses

    def plain(r: _Rule) -> bool:  # a rule outside the quick test
        return r.rule.null is None or len(r.rule.fields) != 1

    def quick(status: str) -> _Quick:
        # (a field both null and set, in a broken model, is listed twice: the test never holds)
        nulls = tuple(r.rule.fields[0] for r in first[status] if not plain(r) and r.rule.null)
        sets = tuple(r.rule.fields[0] for r in first[status] if not plain(r) and not r.rule.null)
        others = tuple(r for r in first[status] if plain(r))
        n, k = len(nulls), len(nulls) + len(sets)
        return _Quick(itemgetter(*nulls, *sets, *watched), (None,) * n, n, k, others)

    first = {s: tuple(r for r in stateless if applies(r, s)) for s in lc.statuses}
    fresh = {(a, b): tuple(r for r in first[b] if not applies(r, a)) for a in first for b in first}
    carried = {(a, b): tuple(r for r in first[b] if applies(r, a)) for a in first for b in first}
    # (padded with "id", which never changes, so that every getter makes a tuple)
    watched = tuple(sorted({f for r in (*stateless, *stateful) if plain(r) for f in r.fields}))
    watched += ("id",) * (2 - len(watched))
    quicks = {s: quick(s) for s in lc.statuses}
    return _Plan(
        fields=tuple(sorted({f for r in (*stateless, *stateful) for f in r.fields})),
        first=first,
        fresh=fresh,
        carried=carried,
        stateful=stateful,
        quick=quicks,
        pairs={
            k: _Pair(
                quicks[k[1]],
                tuple(r for r in fresh[k] if plain(r)),
                tuple(r for r in carried[k] if plain(r)),
                stateful,
                {},
            )
            for k in fresh
        },
        watched=watched,
        watch=itemgetter(*watched),
    )


def _identity(rule: FieldRule) -> bool:
    """Objects are told apart by id and object type: a rule that only says these never change
    holds by construction (an object whose id or type changed is another object)."""
    return set(rule.fields) <= {"id", "object"}


_PLANS = {lc.name: _plan(lc) for lc in (RUN, STEP, MESSAGE)}
_RUN_PLAN = _PLANS[RUN.name]

_Way = tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]
"""A highest-grade path's edges as (source, dest), its untrusted edges, and the fields its
statuses on the way leave set for good (an observation with one null took another way)."""


def _ways(lc: Lifecycle, lv: Strictness) -> dict[tuple[str, str], _Way]:
    """(previous, status) -> how the model explains the change at `lv`, for every change a
    path explains from a status that is not terminal (`Checker._move` judges the rest)."""
    out: dict[tuple[str, str], _Way] = {}
    marks = MARKS[lc.name]
    for a in lc.statuses:
        for b in lc.statuses:
            path = lc.best_path(a, b, lv)
            if a != b and a not in lc.terminal and path is not None:
                marked = tuple(dict.fromkeys(f for e in path[:-1] for f in marks[e.dest]))
                out[a, b] = (tuple((e.source, e.dest) for e in path), _untrusted(path), marked)
    return out


_WAYS = {lv: {lc.name: _ways(lc, lv) for lc in (RUN, STEP, MESSAGE)} for lv in Strictness}

_LINKS: dict[tuple[str, str, str], tuple[Link, ...]] = {
    (lc.name, r, c): tuple(
        k for k in LINKS if k.lifecycle == lc.name and r in k.run_statuses and c in k.from_statuses
    )
    for lc in (STEP, MESSAGE)
    for r in RUN.statuses
    for c in lc.statuses
}

# -- per-object state ----------------------------------------------------------------------------


_NO_TRIGGERS: frozenset[str] = frozenset()


class _Run:
    __slots__ = (
        "calls",
        "children",
        "first_loc",
        "found",
        "last",
        "level",
        "needs",
        "observations",
        "oid",
        "said",
        "seen",
        "status",
        "statuses",
        "thread_id",
        "triggers",
        "via_http",
    )

    def __init__(self, oid: str, status: str | None = None) -> None:
        self.oid = oid
        self.thread_id: str | None = None
        self.status = status  # last known status (None: not known yet)
        self.last: dict[str, Any] | None = None  # last observed object, for stateful rules
        self.seen: tuple[Any, ...] | None = None  # its watched values (see `Checker._judge`)
        self.said: Any = None  # its status
        self.via_http = False  # the last observation came from recorded HTTP traffic
        self.calls: tuple[str, ...] = ()  # tool call ids of the current requires_action round
        # client triggers fired since the last observation (replaced, never changed in place)
        self.triggers: frozenset[str] = _NO_TRIGGERS
        self.children: set[tuple[str, str]] | None = None  # open steps and messages
        self.observations = 0
        self.statuses: list[str] = [] if status is None else [status]
        self.level = 0  # index into _LEVELS
        self.needs: dict[str, None] | None = None
        self.found: dict[tuple[str, str | None, str | None], list[Any]] | None = None
        self.first_loc: Location | None = None


class _Child:
    __slots__ = (
        "calls",
        "judged",
        "kind",
        "last",
        "lc",
        "oid",
        "run_id",
        "said",
        "seen",
        "status",
    )

    def __init__(self, lc: Lifecycle, oid: str, run_id: str | None, status: str | None) -> None:
        self.lc = lc
        self.oid = oid
        self.run_id = run_id
        self.status = status
        self.last: dict[str, Any] | None = None
        self.seen: tuple[Any, ...] | None = None
        self.said: Any = None
        self.kind: str | None = None  # a step's type
        self.calls: frozenset[str] = frozenset()  # a tool_calls step's call ids
        self.judged: str | None = None  # the run status its links were last judged against


# -- the engine ----------------------------------------------------------------------------------


class _Recent(Generic[_K, _V]):
    """A bounded memory of recently added keys: at least the `size` // 2 most recent, at most
    `size`. Two generations of plain dicts, the older dropped whole: no per-entry links and no
    churn, so memory stays flat however long the input (an exact LRU's grew by a quarter)."""

    __slots__ = ("_half", "_old", "_young")

    def __init__(self, size: int) -> None:
        self._half = max(1, size // 2)
        self._young: dict[_K, _V] = {}
        self._old: dict[_K, _V] = {}

    def add(self, key: _K, value: _V) -> None:
        young = self._young
        young[key] = value
        if len(young) >= self._half:
            self._old, self._young = young, {}

    def pop(self, key: _K, default: _V | None = None) -> _V | None:
        young = self._young
        if key in young:
            self._old.pop(key, None)
            return young.pop(key)
        return self._old.pop(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._young or key in self._old


class Checker:
    """The checking engine: `feed` it items in observation order, then call `finish`.

    Events go to `emit` as they happen. Memory grows with the number of open runs, steps,
    messages and streams, not with the input: a settled run (terminal, its steps and messages
    settled) is kept whole until `window` more runs settle, then closed (`RunChecked`); of a
    closed run only its status is remembered, for at least the `memory` // 2 most recent ones.
    """

    def __init__(
        self,
        strictness: Strictness = Strictness.STRICT,
        *,
        emit: Callable[[Event], None],
        expiry_grace: float = EXPIRY_GRACE,
        memory: int = _MEMORY,
        window: int = _SETTLED,
        fail_on: Severity = Severity.ERROR,
        observer: Callable[[str, str], None] | None = None,
    ) -> None:
        self.strictness = strictness
        # told ("open", run id), ("settle", run id), ("need", edge): what merging shards replays
        self._observer = observer
        self.fail_on = fail_on
        self.items = 0
        """Items fed so far."""
        self.problems = 0
        """Input problems fed so far."""
        self.checkable = 0
        """Items fed so far that gave something to check: an observation of a run, run step or
        message, or a request on one's lifecycle (create, submit, cancel, a message)."""
        self._emit = emit
        self._ways = _WAYS[strictness]
        self._grace = expiry_grace
        self._memory = memory
        self._window = window
        self._runs: dict[str, _Run] = {}
        self._children: dict[tuple[str, str], _Child] = {}
        self._closed: _Recent[str, str] = _Recent(memory)  # closed run -> its last status
        self._closed_children: _Recent[tuple[str, str], str] = _Recent(memory)
        self._active: dict[str, str] = {}  # thread id -> its active run's id
        self._settled: OrderedDict[str, None] = OrderedDict()  # settled runs, oldest first
        self._streams = StreamJudge(self._stream_finding, self._is_settled, memory)
        self._observations = 0
        # lifecycle -> status -> observations judged (an identical repeat is not judged again)
        self._obs: dict[str, dict[Any, int]] = {lc.name: {} for lc in (RUN, STEP, MESSAGE)}
        self._pairs: dict[str, int] = {}  # lifecycle -> changed observations with a previous one
        self._run_obs = self._obs[RUN.name]  # (the hot path's: runs)
        self._run_pairs = 0  # (the hot path's: `_pairs` of runs)
        self._edge_count: dict[str, dict[tuple[str, str], int]] = {
            lc.name: {} for lc in (RUN, STEP, MESSAGE)
        }
        self._link_count: dict[str, int] = {}
        self._runs_seen = 0
        self._failing: set[str] = set()
        self._errors = self._warnings = 0
        self._unusable: dict[str, None] = {}
        self._needs: dict[str, None] = {}
        # file -> the server's clock minus the recorder's wall clock, by the last Date header
        self._offsets: dict[str, float] = {}
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
            obj = item.obj
            if type(obj) is dict and obj.get("object") == "thread.run":  # the hot path
                self._observe_run(obj, item.loc, item.seq, item.wall, False)
            else:
                self._body(obj, item.loc, item.seq, item.wall, False)
        elif isinstance(item, Exchange):
            self._server_clock(item)
            judge_exchange(self, item)
        elif isinstance(item, StreamEvent):
            self._streams.event(item)
            if type(item.data) is dict:
                self._body(item.data, item.loc, item.seq, item.wall, True)
        elif isinstance(item, InputProblem):
            self.problems += 1
            if item.code == "input.unusable":
                self._unusable[item.loc.file] = None
            where = (None, None, item.loc, None)
            self._add(None, _v(item.code, _ERR, item.message, where, hint=_HINTS["input"]))

    def _server_clock(self, ex: Exchange) -> None:
        """Keep the server's clock offset from a reply's ``Date`` header (an RFC 7231 HTTP-date),
        for judging expiry in this file from now on; a header that does not parse is ignored."""
        date = ex.response_headers.get("date")
        if ex.wall is None or type(date) is not str:
            return
        try:
            when = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        if when.tzinfo is None:  # "-0000": UTC, by RFC 5322
            when = when.replace(tzinfo=timezone.utc)
        self._offsets[ex.loc.file] = when.timestamp() - ex.wall

    def server_time(self, loc: Location, wall: float | None) -> float | None:
        """The server's time at `wall`, by the offset its last Date header in that file showed
        (the wall time itself where none did); None when the item has no wall time."""
        if wall is None:
            return None
        return wall + self._offsets.get(loc.file, 0.0)

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
                obj = item.obj
                if type(obj) is dict and obj.get("object") == "thread.run":
                    self.items += 1
                    observe_run(obj, item.loc, item.seq, item.wall, False)
                    continue
            feed(item)

    def finish(self) -> Summary:
        """End of input: judge what only the end shows, close every run, emit the summary."""
        self._streams.finish()
        for child in self._children.values():
            run = self._runs.get(child.run_id) if child.run_id else None
            if run is not None:
                self._links(run, child, None, None, end=True)
        self._children.clear()
        for run in list(self._runs.values()):
            self._close(run)
        summary = Summary(
            strictness=self.strictness,
            items=self.items,
            observations=self._observations,
            runs=self._runs_seen,
            failing_runs=len(self._failing),
            errors=self._errors,
            warnings=self._warnings,
            input_problems=self.problems,
            unusable_files=tuple(self._unusable),
            needs=tuple(self._needs),
            coverage=self.coverage(),
            fail_on=self.fail_on,
        )
        self._emit(CheckFinished(summary))
        return summary

    def coverage(self) -> Coverage:
        """Edges, rules and links exercised so far, with counts."""
        rules: dict[str, int] = {}
        for lc in (RUN, STEP, MESSAGE):
            plan = _PLANS[lc.name]
            for s in lc.statuses:
                n = self._obs[lc.name].get(s, 0)
                for planned in plan.first[s]:
                    code = planned.rule.code
                    rules[code] = rules.get(code, 0) + n
            for rule in RULES.get(lc.name, ()):
                if rule.stateful:  # (the identity rules hold by construction: counted, not run)
                    pairs = self._pairs.get(lc.name, 0) + (self._run_pairs if lc is RUN else 0)
                    rules[rule.code] = rules.get(rule.code, 0) + pairs
        edges = {k: dict(v) for k, v in self._edge_count.items()}
        return Coverage(edges=edges, rules=rules, links=dict(self._link_count))

    # -- objects -------------------------------------------------------------------------------

    def _body(
        self, body: Any, loc: Location, seq: int | None, wall: float | None, http: bool
    ) -> None:
        if type(body) is not dict:
            return
        kind = body.get("object")
        if type(kind) is str and (kind == "thread.run" or kind in OBJECTS):
            status = body.get("status")
            if status is not None and type(status) is not str:
                self._malformed_status(kind, body, status, loc, seq)
            elif kind == "thread.run":
                self._observe_run(body, loc, seq, wall, http)
            else:
                self._observe_child(OBJECTS[kind], body, loc, seq)
        elif kind == "list" and type(body.get("data")) is list:
            for element in body["data"]:
                self._body(element, loc, seq, wall, http)

    def _observe_run(
        self, obj: dict[str, Any], loc: Location, seq: int | None, wall: float | None, http: bool
    ) -> None:
        self._observations += 1
        self.checkable += 1
        oid = obj.get("id")
        if type(oid) is not str:
            self._unidentified(RUN, loc, seq)
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
                self._expiry(run, obj, status, wall, loc, seq)
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
            self._move(run, RUN, run, status, calls, loc, seq, http, obj)
            run.calls = calls
            if wall is not None and status in _RUN_ACTIVE:
                self._expiry(run, obj, status, wall, loc, seq)
            tid = run.thread_id
            if tid is not None:  # `_lock`, inlined
                if status in _RUN_ACTIVE:
                    self._active[tid] = oid
                elif self._active.get(tid) == oid:
                    del self._active[tid]
        else:
            self._unknown(run, RUN, oid, status, loc, seq)
        if last is not None:
            self._run_pairs += 1
        run.seen = self._judge(run, oid, _RUN_PLAN, status, obj, last, run.said, run.seen, loc, seq)
        run.last, run.said = obj, status
        run.via_http = http
        if run.triggers:
            run.triggers = _NO_TRIGGERS
        if run.status in _RUN_TERMINAL and not run.children:
            self._settled_run(run)

    def _lock(self, run: _Run) -> None:
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
            self._unidentified(lc, loc, seq)
            return
        rid = obj.get("run_id")
        rid = rid if type(rid) is str else None
        key = (lc.name, oid)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = _Child(lc, oid, rid, self._closed_children.pop(key, None))
        run = self._run(rid) if rid is not None else None
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
            self._move(run, lc, child, status, (), loc, seq, False, obj)
            if run is not None:
                self._links(run, child, loc, seq)
        elif not (status is None and lc is MESSAGE):  # user messages come back with status null
            self._unknown(run, lc, oid, status, loc, seq)
        if last is not None:
            self._pairs[lc.name] = self._pairs.get(lc.name, 0) + 1
        plan = _PLANS[lc.name]
        child.seen = self._judge(
            run, oid, plan, status, obj, last, child.said, child.seen, loc, seq
        )
        child.last, child.said = obj, status
        self._settle(child, run)

    def _settle(self, child: _Child, run: _Run | None) -> None:
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

    def _open_run(self, oid: str) -> _Run:
        closed = self._closed.pop(oid, None)
        run = _Run(oid, closed)
        self._runs[oid] = run
        if closed is None:
            self._runs_seen += 1
        if self._observer is not None:
            self._observer("open", oid)
        return run

    def _run(self, oid: str) -> _Run:
        return self._runs.get(oid) or self._open_run(oid)

    def _settled_run(self, run: _Run) -> None:
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

    def _close(self, run: _Run) -> None:
        self._settled.pop(run.oid, None)
        del self._runs[run.oid]
        if run.status is not None:
            self._closed.add(run.oid, _STATUS[run.status])  # the model's own str
        found = run.found
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
        )
        self._emit(RunChecked(result))

    # -- statuses ------------------------------------------------------------------------------

    def _move(
        self,
        run: _Run | None,
        lc: Lifecycle,
        obj: _Run | _Child,
        cur: str,
        calls: tuple[str, ...],
        loc: Location | None,
        seq: int | None,
        http: bool,
        seen: Mapping[str, Any] | None = None,
    ) -> None:
        """Judge the change from the object's last known status to `cur` (`seen`: the new
        observation, whose fields may rule some ways out), and record it."""
        prev = obj.status
        obj.status = cur
        if isinstance(obj, _Run):
            statuses = obj.statuses
            if len(statuses) < 64 and (not statuses or statuses[-1] != cur):
                statuses.append(cur)
        counts = self._edge_count[lc.name]
        if prev is None:
            if cur == lc.initial:
                counts["", cur] = counts.get(("", cur), 0) + 1
            return
        if prev != cur and not (http and isinstance(obj, _Run) and obj.via_http):
            # the common case, from a table: a change the model explains without the client
            way = self._ways[lc.name].get((prev, cur))
            if way is not None and (
                not way[2] or seen is None or all(seen.get(f) is not None for f in way[2])
            ):
                for edge in way[0]:
                    counts[edge] = counts.get(edge, 0) + 1
                if way[1]:
                    self._need(run, way[1])
                return
        nonempty = False
        if prev == cur:
            # a new requires_action round (other call ids) is a way round the cycle
            if not (isinstance(obj, _Run) and calls and obj.calls and set(calls) != set(obj.calls)):
                return
            nonempty = True
        if prev in lc.terminal:
            what, where = _what(prev, cur, nonempty), _at(run, obj, loc, seq)
            msg = f"{lc.name} {obj.oid} left terminal status {prev!r} for {cur!r}"
            self._add(
                run,
                _v(
                    f"{lc.name}.terminal_left",
                    _ERR,
                    msg,
                    where,
                    observed=what,
                    allowed=f"nothing after {prev} (terminal statuses absorb)",
                    ev=lc.status(prev).evidence,
                    hint=_HINTS["terminal_left"],
                ),
            )
            self._level(run, 2)
            return
        lv = self.strictness
        # over recorded HTTP, a client edge explains a change only if the client took it
        fired = obj.triggers if isinstance(obj, _Run) and http and obj.via_http else None
        unvisited = _unvisited(lc, seen)
        if cur in unvisited:  # the observation contradicts its own status: its field rules
            unvisited = frozenset()  # report that, and its fields rule nothing out
        path = _explain(lc, prev, cur, lv, nonempty, fired, unvisited)
        if (
            path is None
            and unvisited
            and (
                lv is Strictness.PERMISSIVE
                or _explain(lc, prev, cur, Strictness.PERMISSIVE, nonempty, fired, unvisited)
                is None
            )
        ):
            # the fields rule out every way at every level: the field rules report that, and
            # the move is judged without them
            unvisited = frozenset()
            path = _explain(lc, prev, cur, lv, nonempty, fired)
        if path is not None:
            if lv is Strictness.PERMISSIVE:
                self._need(run, _untrusted(path))
        else:
            what, where = _what(prev, cur, nonempty), _at(run, obj, loc, seq)
            perm = None
            if lv is Strictness.STRICT:
                perm = _explain(lc, prev, cur, Strictness.PERMISSIVE, nonempty, fired, unvisited)
            if perm is not None:
                msg = f"{lc.name} {obj.oid}: {what} needs edges admitted only at permissive"
                self._add(
                    run,
                    _v(
                        f"{lc.name}.illegal_transition",
                        _ERR,
                        msg,
                        where,
                        observed=what,
                        allowed=f"at strict: {_out(lc, prev, lv)}",
                        ev=_weakest(perm),
                        hint=_HINTS["needs_permissive"],
                        path=_edges(perm),
                        needs=_untrusted(perm),
                    ),
                )
                self._need(run, _untrusted(perm))
                path = perm
            elif fired is not None and (
                (anyway := _explain(lc, prev, cur, lv, nonempty, None, unvisited)) is not None
                or (
                    anyway := _explain(
                        lc, prev, cur, Strictness.PERMISSIVE, nonempty, None, unvisited
                    )
                )
            ):
                client = [e for e in anyway if e.actor is Actor.CLIENT and e.trigger not in fired]
                triggers = ", ".join(sorted({e.trigger for e in client}))
                msg = (
                    f"{lc.name} {obj.oid}: {what} needs the client's {triggers}, and the "
                    "recorded traffic has no such request in between"
                )
                self._add(
                    run,
                    _v(
                        f"{lc.name}.moved_without_client",
                        _ERR,
                        msg,
                        where,
                        observed=what,
                        allowed="only the client takes " + "; ".join(str(e) for e in client),
                        ev=client[0].evidence,
                        hint=_HINTS["moved_without_client"],
                        path=_edges(anyway),
                        needs=_untrusted(anyway),
                    ),
                )
                self._level(run, 2)
                path = anyway
            else:
                msg = f"{lc.name} {obj.oid}: no path from {prev!r} to {cur!r}" + (
                    " through another round" if nonempty else ""
                )
                self._add(
                    run,
                    _v(
                        f"{lc.name}.illegal_transition",
                        _ERR,
                        msg,
                        where,
                        observed=what,
                        allowed=f"from {prev}: {_out(lc, prev, lv)}",
                        ev=lc.status(prev).evidence,
                        hint=_HINTS["illegal_transition"],
                    ),
                )
                self._level(run, 2)
                return
        for e in path:
            counts[e.source, e.dest] = counts.get((e.source, e.dest), 0) + 1

    def _level(self, run: _Run | None, level: int) -> None:
        if run is not None and level > run.level:
            run.level = level

    def _need(self, run: _Run | None, needs: tuple[str, ...]) -> None:
        """Record untrusted edges a move took: the run needs the permissive level."""
        for n in needs:
            if self._observer is not None and n not in self._needs:
                self._observer("need", n)
            self._needs[n] = None
            if run is not None:
                if run.needs is None:
                    run.needs = {}
                run.needs[n] = None
        if needs:
            self._level(run, 1)

    def _unknown(
        self, run: _Run | None, lc: Lifecycle, oid: str, status: Any, loc: Location, seq: int | None
    ) -> None:
        what = "has no status" if status is None else f"has status {status!r}"
        self._add(
            run,
            _v(
                "status.unknown",
                _WARN,
                f"{lc.name} {oid} {what}, unknown to the model",
                (run.oid if run else None, oid, loc, seq),
                observed=repr(status),
                allowed=f"the model knows: {', '.join(lc.statuses)}",
            ),
        )

    def _malformed_status(
        self, kind: str, obj: dict[str, Any], status: Any, loc: Location, seq: int | None
    ) -> None:
        """A reply whose object has a status that is not a string: reported, and skipped."""
        oid = obj.get("id") if type(obj.get("id")) is str else None
        self._add(
            None,
            _v(
                "input.bad_entry",
                _ERR,
                f"a {kind} object ({oid or 'no id'}) whose status is {type(status).__name__}"
                f" {status!r:.60}, not a string; skipped",
                (None, oid, loc, seq),
                observed=f"status {status!r:.60}",
                allowed="a status is a string",
                hint=_HINTS["input"],
            ),
        )

    def _unidentified(self, lc: Lifecycle, loc: Location, seq: int | None) -> None:
        self._add(
            None,
            _v(
                "input.unidentified_object",
                _ERR,
                f"a {lc.name} object without an id",
                (None, None, loc, seq),
                observed="no string 'id'",
                allowed="every object carries its id",
                hint="Record whole objects: one without an id cannot be tracked.",
            ),
        )

    def _judge(
        self,
        run: _Run | None,
        oid: str,
        plan: _Plan,
        status: Any,
        obj: dict[str, Any],
        last: dict[str, Any] | None,
        said: Any,
        seen: tuple[Any, ...] | None,
        loc: Location,
        seq: int | None,
    ) -> tuple[Any, ...] | None:
        """Run the field rules an observation can have changed (see `_Plan`); report failures.

        `said` is the status of `last`, `seen` what this returned for it: its watched values
        (None: not known). Returns the watched values of `obj`, for the object's next
        observation. (The quick path does not touch `last` unless a rule needs it.)
        """
        quick = plan.quick.get(status)
        if quick is None:  # a status the model does not know
            return self._judge_each(run, oid, plan, status, obj, last, loc, seq)
        try:
            vals = quick.values(obj)
        except KeyError:  # a missing field: the rules decide one by one
            return self._judge_each(run, oid, plan, status, obj, last, loc, seq)
        n, k = quick.n, quick.k
        if vals[:n] != quick.nulls or None in vals[n:k]:
            return self._judge_each(run, oid, plan, status, obj, last, loc, seq)
        now = vals[k:]
        failed: list[tuple[_Rule, str]] = []
        if last is None:
            for r in quick.others:
                msg = r.call(obj)
                if msg is not None:
                    failed.append((r, msg))
        else:
            pair = plan.pairs.get((said, status))
            if pair is None or seen is None:
                return self._judge_each(run, oid, plan, status, obj, last, loc, seq)
            for r in pair.fresh:
                msg = r.call(obj)
                if msg is not None:
                    failed.append((r, msg))
            if now != seen:
                changed = tuple(map(ne, now, seen))
                carried, stateful = pair.todo.get(changed) or pair.rules(plan.watched, changed)
                for r in carried:
                    msg = r.call(obj)
                    if msg is not None:
                        failed.append((r, msg))
                for r in stateful:
                    msg = r.call(last, obj)
                    if msg is not None:
                        failed.append((r, msg))
        if failed:
            self._report(run, oid, failed, loc, seq)
        return now

    def _judge_each(
        self,
        run: _Run | None,
        oid: str,
        plan: _Plan,
        status: Any,
        obj: dict[str, Any],
        last: dict[str, Any] | None,
        loc: Location,
        seq: int | None,
    ) -> tuple[Any, ...] | None:
        """`_judge` without the quick test: every rule that may have changed, one by one."""
        failed: list[tuple[_Rule, str]] = []
        if last is None:
            for r in plan.first.get(status, ()):
                msg = r.call(obj)
                if msg is not None:
                    failed.append((r, msg))
        else:
            og, lg = obj.get, last.get
            changed = {f for f in plan.fields if og(f) != lg(f)}
            key: Any = (lg("status"), status)
            fresh = plan.fresh.get(key)
            carried: tuple[_Rule, ...] = ()
            if fresh is None:  # a status the model does not know, before or now
                fresh = plan.first.get(status, ())
            else:
                carried = plan.carried[key]
            for r in fresh:
                msg = r.call(obj)
                if msg is not None:
                    failed.append((r, msg))
            if changed:
                for r in carried:
                    if not r.fields.isdisjoint(changed) and (msg := r.call(obj)) is not None:
                        failed.append((r, msg))
                for r in plan.stateful:
                    if not r.fields.isdisjoint(changed) and (msg := r.call(last, obj)) is not None:
                        failed.append((r, msg))
        self._report(run, oid, failed, loc, seq)
        try:
            return plan.watch(obj)
        except KeyError:
            return None

    def _report(
        self,
        run: _Run | None,
        oid: str,
        failed: list[tuple[_Rule, str]],
        loc: Location,
        seq: int | None,
    ) -> None:
        """Report the field rules that failed, in order."""
        for r, msg in failed:
            rule = r.rule
            note = f" ({rule.evidence.note})" if rule.evidence.note else ""
            where = (run.oid if run else None, oid, loc, seq)
            self._add(
                run,
                _v(
                    r.code,
                    r.severity,
                    f"{oid}: {msg}",
                    where,
                    observed=msg,
                    allowed=rule.summary,
                    ev=rule.evidence,
                    hint=f"Rule {rule.code}: {rule.summary}{note}.",
                    rule=rule.code,
                ),
            )

    def _expiry(
        self,
        run: _Run,
        obj: dict[str, Any],
        status: str,
        wall: float,
        loc: Location,
        seq: int | None,
    ) -> None:
        """Judge an active run against its expires_at, by the server's clock where a Date header
        showed it (the recorder's wall time plus that offset), else by the wall time."""
        exp: Any = obj.get("expires_at")
        offset = self._offsets.get(loc.file)
        now = wall if offset is None else wall + offset
        if type(exp) not in (int, float) or now <= exp + self._grace:
            return
        clock = RUN.triggers(status, Actor.CLOCK, self.strictness)
        if not clock:
            return  # the model (at this level) lets this status outlive expires_at
        edge = clock[0]
        msg = f"run {run.oid} is still {status} {now - exp:.0f} s after its expires_at"
        observed = f"{status} at wall time {wall:.0f}, expires_at {exp}"
        if offset is not None:
            observed = (
                f"{status} at server time {now:.0f} (wall time {wall:.0f}; the server's clock, "
                f"by its Date header, {offset:+.0f} s from it), expires_at {exp}"
            )
        self._add(
            run,
            _v(
                "run.expiry_not_honoured",
                _sev(edge.evidence),
                msg,
                (run.oid, run.oid, loc, seq),
                observed=observed,
                allowed=str(edge),
                ev=edge.evidence,
                hint=_HINTS["expiry"],
                path=(str(edge),),
            ),
        )

    def _links(
        self, run: _Run, child: _Child, loc: Location | None, seq: int | None, *, end: bool = False
    ) -> None:
        if run.triggers or run.status is None or child.status is None:
            return  # unknown, or stale: the client moved the run since its last observation
        if end and child.judged == run.status:
            return  # judged already, when the child was last seen
        child.judged = run.status
        for link in _LINKS.get((child.lc.name, run.status, child.status), ()):
            if link.step_type is not None:
                if child.kind != link.step_type:
                    continue
                if child.calls and run.calls and not child.calls & set(run.calls):
                    continue  # a step of an earlier round, not the one the run waits on
            self._link_count[link.code] = self._link_count.get(link.code, 0) + 1
            when = " at the end of input" if end else ""
            msg = (
                f"{child.lc.name} {child.oid} is {child.status}{when} while its run is {run.status}"
            )
            observed = f"run {run.status}, {child.lc.name} {child.status}"
            if end:
                observed += " (last seen before its run's last observation)"
            self._add(
                run,
                _v(
                    f"link.{link.code}",
                    _WARN if end else _sev(link.evidence),
                    msg,
                    (run.oid, child.oid, loc, seq),
                    observed=observed,
                    allowed=f"{child.lc.name} {', '.join(sorted(link.expected))}: {link.summary}",
                    ev=link.evidence,
                    hint=_HINTS["link"],
                    rule=link.code,
                ),
            )

    # -- findings ------------------------------------------------------------------------------

    def _stream_finding(self, v: Violation) -> None:
        self._add(self._run(v.run_id) if v.run_id else None, v)

    def _is_settled(self, lifecycle: str, oid: str) -> bool:
        child = self._children.get((lifecycle, oid))
        if child is not None:
            return child.status in child.lc.terminal
        return (lifecycle, oid) in self._closed_children

    def _add(self, run: _Run | None, v: Violation) -> None:
        if run is None:
            self._count(v, None)
            self._emit(ViolationFound(v))
            return
        if run.found is None:
            run.found = {}
        # one finding per code and subject; but each distinct status change is its own finding
        key = (v.code, v.subject, v.observed if v.code.endswith(_MOVES) else None)
        entry = run.found.get(key)
        if entry is None:
            run.found[key] = [v, 1]
            self._count(v, run.oid)
        else:
            entry[1] += 1

    def _count(self, v: Violation, run_id: str | None) -> None:
        if v.severity is _ERR:
            self._errors += 1
            if run_id is not None:
                self._failing.add(run_id)
        else:
            self._warnings += 1


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
