"""Status changes judged against the model: which path of edges explains each change, at the
checker's strictness, and what it took (the edges exercised, the untrusted ones needed).

A change the model explains without the client is looked up in a table built once per
strictness; the rest (a terminal status left, the client's edges over recorded HTTP, fields
that rule a way out, no path at all) is judged edge by edge (`runmodel.Lifecycle.best_path`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from runmodel import (
    LIFECYCLES,
    MARKS,
    MESSAGE,
    RUN,
    STEP,
    Actor,
    Edge,
    Evidence,
    Lifecycle,
    Strictness,
)

from ..observations import Location
from .findings import Findings
from .results import Severity, Violation
from .state import ChildState, RunState

__all__ = ["Moves"]

_HINTS = {
    "illegal_transition": "If this is real API behaviour, keep the trace and add the edge, "
    "with its evidence, to the model.",
    "needs_permissive": "Run with --strictness permissive to admit inferred and disputed "
    "edges, or find evidence that grades them documented or observed.",
    "terminal_left": "Terminal statuses absorb: look for a stale cache, a reused id or a "
    "reordered log.",
    "moved_without_client": "Only the client may take this edge, and the recorded traffic has "
    "no such request between the two observations.",
}


def _what(prev: str, cur: str, nonempty: bool) -> str:
    """A status change as findings show it."""
    return f"{prev} → {cur}" + (" (a new round)" if nonempty else "")


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


def _explained(
    lc: Lifecycle,
    prev: str,
    cur: str,
    lv: Strictness,
    nonempty: bool,
    fired: frozenset[str] | None,
    seen: Mapping[str, Any] | None,
) -> tuple[tuple[Edge, ...] | None, frozenset[str]]:
    """`_explain` with the statuses the observation `seen` rules out: (the path, those
    statuses). When they rule out every way at every level, the field rules report that, and
    the move is judged without them."""
    unvisited = _unvisited(lc, seen)
    if cur in unvisited:  # the observation contradicts its own status: its field rules
        unvisited = frozenset()  # report that, and its fields rule nothing out
    path = _explain(lc, prev, cur, lv, nonempty, fired, unvisited)
    perm = Strictness.PERMISSIVE
    if (
        path is None
        and unvisited
        and (lv is perm or _explain(lc, prev, cur, perm, nonempty, fired, unvisited) is None)
    ):
        unvisited = frozenset()
        path = _explain(lc, prev, cur, lv, nonempty, fired)
    return path, unvisited


_Way = tuple[tuple[tuple[str, str], ...], tuple[str, ...], tuple[str, ...]]
"""A highest-grade path's edges as (source, dest), its untrusted edges, and the fields its
statuses on the way leave set for good (an observation with one null took another way)."""


def _ways(lc: Lifecycle, lv: Strictness) -> dict[tuple[str, str], _Way]:
    """(previous, status) -> how the model explains the change at `lv`, for every change a
    path explains from a status that is not terminal (`Moves.move` judges the rest, the moves
    out of a terminal status that a lifecycle's disputed edges admit at permissive among them)."""
    out: dict[tuple[str, str], _Way] = {}
    marks = MARKS[lc.name]
    for a in lc.statuses:
        for b in lc.statuses:
            path = lc.best_path(a, b, lv)
            if a != b and a not in lc.terminal and path is not None:
                marked = tuple(dict.fromkeys(f for e in path[:-1] for f in marks[e.dest]))
                out[a, b] = (tuple((e.source, e.dest) for e in path), _untrusted(path), marked)
    return out


_WAYS = {lv: {lc.name: _ways(lc, lv) for lc in LIFECYCLES.values()} for lv in Strictness}
_REPORTED = (RUN.name, STEP.name, MESSAGE.name)
"""The lifecycles whose edge counts are reported even when none was exercised (the others'
once one was: a report on runs alone stays as it was before they were added)."""


class Moves:
    """Judges each status change of an object of any lifecycle; counts the edges exercised
    (`edges`: lifecycle -> (source, dest) -> count; ``("", initial)`` for a first sighting in
    the initial status). Findings go to `findings`, with the level each run's moves need."""

    def __init__(self, strictness: Strictness, findings: Findings) -> None:
        self.strictness = strictness
        self.edges: dict[str, dict[tuple[str, str], int]] = {name: {} for name in _REPORTED}
        self._ways = _WAYS[strictness]
        self._findings = findings
        self._need = findings.need

    def move(
        self,
        run: RunState | None,
        lc: Lifecycle,
        obj: RunState | ChildState,
        cur: str,
        calls: tuple[str, ...],
        loc: Location | None,
        seq: int | None,
        http: bool,
        seen: Mapping[str, Any] | None = None,
    ) -> None:
        """Judge the change from the object's last known status to `cur` (`seen`: the new
        observation, whose fields may rule some ways out), and record it. `calls`: a run's
        tool call ids (other ids in requires_action again are a new round); `http`: observed
        in recorded HTTP traffic, where a client edge explains a change only if the client
        took it."""
        prev = obj.status
        obj.status = cur
        via_http = False
        if isinstance(obj, RunState):
            via_http = obj.via_http
            statuses = obj.statuses
            if len(statuses) < 64 and (not statuses or statuses[-1] != cur):
                statuses.append(cur)
        counts = self.edges.get(lc.name)
        if counts is None:
            counts = self.edges[lc.name] = {}
        if prev is None:
            if cur == lc.initial:
                counts["", cur] = counts.get(("", cur), 0) + 1
            return
        if prev != cur and not (http and via_http):
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
            if not (
                isinstance(obj, RunState) and calls and obj.calls and set(calls) != set(obj.calls)
            ):
                return
            nonempty = True
        path = self._judge(run, lc, obj, prev, cur, nonempty, http, seen, loc, seq)
        for e in path or ():
            counts[e.source, e.dest] = counts.get((e.source, e.dest), 0) + 1

    def _judge(
        self,
        run: RunState | None,
        lc: Lifecycle,
        obj: RunState | ChildState,
        prev: str,
        cur: str,
        nonempty: bool,
        http: bool,
        seen: Mapping[str, Any] | None,
        loc: Location | None,
        seq: int | None,
    ) -> tuple[Edge, ...] | None:
        """A change the table does not explain, edge by edge: the path it took (to count), or
        None when no path at any level explains it."""
        lv, perm_lv = self.strictness, Strictness.PERMISSIVE
        fired: frozenset[str] | None = None
        path: tuple[Edge, ...] | None = None  # the edges taken anyway (counted), if any
        ev: Evidence | None
        if prev in lc.terminal and (
            lv is Strictness.STRICT or lc.best_path(prev, cur, lv, nonempty=nonempty) is None
        ):
            # (at permissive, a lifecycle's disputed edge may leave a terminal status: judged
            # below like any other move; at strict, terminal statuses absorb)
            kind = hint = "terminal_left"
            ev = lc.status(prev).evidence
            message = f" left terminal status {prev!r} for {cur!r}"
            allowed = f"nothing after {prev} (terminal statuses absorb)"
        else:
            fired = obj.triggers if isinstance(obj, RunState) and http and obj.via_http else None
            path, unvisited = _explained(lc, prev, cur, lv, nonempty, fired, seen)
            if path is not None:
                if lv is perm_lv:
                    self._need(run, _untrusted(path))
                return path
            if lv is Strictness.STRICT:
                path = _explain(lc, prev, cur, perm_lv, nonempty, fired, unvisited)
            if path is not None:
                kind, hint, ev = "illegal_transition", "needs_permissive", _weakest(path)
                message = f": {_what(prev, cur, nonempty)} needs edges admitted only at permissive"
                allowed = f"at strict: {_out(lc, prev, lv)}"
            elif fired is not None and (
                (path := _explain(lc, prev, cur, lv, nonempty, None, unvisited)) is not None
                or (path := _explain(lc, prev, cur, perm_lv, nonempty, None, unvisited)) is not None
            ):
                client = [e for e in path if e.actor is Actor.CLIENT and e.trigger not in fired]
                kind = hint = "moved_without_client"
                ev = client[0].evidence
                triggers = ", ".join(sorted({e.trigger for e in client}))
                message = (
                    f": {_what(prev, cur, nonempty)} needs the client's {triggers}, and the "
                    "recorded traffic has no such request in between"
                )
                allowed = "only the client takes " + "; ".join(str(e) for e in client)
            else:
                kind = hint = "illegal_transition"
                ev = lc.status(prev).evidence
                message = f": no path from {prev!r} to {cur!r}" + (
                    " through another round" if nonempty else ""
                )
                allowed = f"from {prev}: {_out(lc, prev, lv)}"
        self._findings.add(
            run,
            Violation.of(
                f"{lc.name}.{kind}",
                Severity.ERROR,
                f"{lc.name} {obj.oid}{message}",
                (run.oid if run else None, obj.oid, loc, seq),
                observed=_what(prev, cur, nonempty),
                allowed=allowed,
                ev=ev,
                hint=_HINTS[hint],
                path=_edges(path or ()),
                needs=_untrusted(path or ()),
            ),
        )
        if hint == "needs_permissive":
            self._need(run, _untrusted(path or ()))
        else:
            self._findings.level(run, 2)
        return path
