"""The machinery of a lifecycle model: graded edges, strictness levels, validation, path tables.

The data (which statuses and edges the Assistants API has) lives in `_lifecycles.py`; this module
knows nothing about runs. Everything here is computed once, when a `Lifecycle` is built, so that
the checker's and the strategies' questions are dictionary lookups.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import transitions

__all__ = [
    "Actor",
    "Edge",
    "Evidence",
    "Grade",
    "IllegalTransition",
    "Lifecycle",
    "ModelDefinitionError",
    "Status",
    "Strictness",
    "Tracker",
]


class Grade(str, enum.Enum):
    """How well a fact is known: documented, observed, inferred or disputed."""

    DOCUMENTED = "documented"
    OBSERVED = "observed"
    INFERRED = "inferred"
    DISPUTED = "disputed"

    @property
    def letter(self) -> str:
        """The one-letter code used in the evidence file and in diagrams (D, O, I, X)."""
        return _LETTERS[self]

    @property
    def trusted(self) -> bool:
        """Documented and observed facts are trusted; inferred and disputed ones are not."""
        return self in (Grade.DOCUMENTED, Grade.OBSERVED)

    @property
    def rank(self) -> int:
        """0 for the best-attested grade (documented) to 3 for the least (disputed)."""
        return _GRADE_ORDER.index(self)


_LETTERS = {
    Grade.DOCUMENTED: "D",
    Grade.OBSERVED: "O",
    Grade.INFERRED: "I",
    Grade.DISPUTED: "X",
}


class Strictness(str, enum.Enum):
    """Which edges a check admits: only trusted ones (the default), or also the untrusted."""

    STRICT = "strict"
    PERMISSIVE = "permissive"

    def admits(self, evidence: Evidence) -> bool:
        """Whether a fact with this evidence counts at this level."""
        return self is Strictness.PERMISSIVE or evidence.trusted


class Actor(str, enum.Enum):
    """Who causes a transition: the server, the client (an API call), or the clock."""

    SERVER = "server"
    CLIENT = "client"
    CLOCK = "clock"


@dataclass(frozen=True, slots=True)
class Evidence:
    """The grades of a fact (strongest first, e.g. D then O) and the sources that support it."""

    grades: tuple[Grade, ...]
    sources: tuple[str, ...]
    note: str = ""

    def __post_init__(self) -> None:
        if not self.grades or not self.sources:
            raise ModelDefinitionError("evidence needs at least one grade and one source")

    @classmethod
    def of(cls, grades: str, *sources: str, note: str = "") -> Evidence:
        """Build from the evidence file's notation: ``Evidence.of("D/O", "docs:runs")``."""
        by_letter = {g.letter: g for g in Grade}
        try:
            parsed = tuple(by_letter[c] for c in grades.split("/"))
        except KeyError:
            raise ModelDefinitionError(f"unknown grade in {grades!r}; use D, O, I or X") from None
        return cls(parsed, sources, note)

    @property
    def grade(self) -> Grade:
        """The primary grade."""
        return self.grades[0]

    @property
    def trusted(self) -> bool:
        """True when any grade is documented or observed."""
        return any(g.trusted for g in self.grades)

    @property
    def label(self) -> str:
        """Grades as the evidence file writes them, e.g. ``D/O``."""
        return "/".join(g.letter for g in self.grades)

    @property
    def level(self) -> Strictness:
        """The strictest level that admits this fact."""
        return Strictness.STRICT if self.trusted else Strictness.PERMISSIVE

    def cite(self) -> str:
        """A one-line citation: grade label and sources."""
        return f"{self.label} ({', '.join(self.sources)})"


@dataclass(frozen=True, slots=True)
class Status:
    """One status of a lifecycle, with what it means and how we know it exists."""

    name: str
    meaning: str
    evidence: Evidence
    terminal: bool = False


@dataclass(frozen=True, slots=True)
class Edge:
    """A legal move between two statuses: the trigger that causes it, who fires it, and why."""

    source: str
    dest: str
    trigger: str
    actor: Actor
    evidence: Evidence

    @property
    def grade(self) -> Grade:
        return self.evidence.grade

    @property
    def level(self) -> Strictness:
        return self.evidence.level

    def __str__(self) -> str:
        how = f"{self.trigger}, {self.actor.value}, {self.evidence.label}"
        return f"{self.source} → {self.dest} ({how})"


class RunmodelError(Exception):
    """The root of every error the model and the kit raise. (The kit's stop signals derive from
    BaseException instead, so that a client's ``except Exception`` cannot swallow them.)"""


class ModelDefinitionError(RunmodelError, ValueError):
    """A lifecycle definition is broken; the message names the offending statuses."""


class IllegalTransition(RunmodelError):
    """A trigger was fired in a status that has no such edge at the tracker's strictness."""

    def __init__(
        self,
        lifecycle: str,
        status: str,
        trigger: str,
        strictness: Strictness,
        legal: Sequence[str],
    ) -> None:
        self.lifecycle = lifecycle
        self.status = status
        self.trigger = trigger
        self.strictness = strictness
        self.legal = tuple(legal)
        allowed = ", ".join(self.legal) if self.legal else "none (the status is terminal)"
        super().__init__(
            f"{lifecycle}: trigger {trigger!r} is not legal in status {status!r} "
            f"at strictness {strictness.value}; legal triggers: {allowed}"
        )


_Path = tuple[Edge, ...]
_GRADE_ORDER = (Grade.DOCUMENTED, Grade.OBSERVED, Grade.INFERRED, Grade.DISPUTED)
_AT_LEAST = {g: frozenset(_GRADE_ORDER[: i + 1]) for i, g in enumerate(_GRADE_ORDER)}


class Lifecycle:
    """A validated lifecycle: statuses, graded edges, and precomputed path tables per strictness.

    Built once at import; every query after that is a dictionary lookup.
    """

    def __init__(
        self,
        name: str,
        *,
        statuses: Sequence[Status],
        initial: str,
        created_by: Edge,
        edges: Sequence[Edge],
        also_settled: Iterable[str] = (),
        api_object: str | None = None,
    ) -> None:
        self.name = name
        self.api_object = api_object
        """The API's ``object`` name for this lifecycle's objects (``thread.run``), by which
        recorded traffic is routed to it; None for a lifecycle with no API objects."""
        self._status_info = {s.name: s for s in statuses}
        self.statuses: tuple[str, ...] = tuple(s.name for s in statuses)
        self.initial = initial
        self.created_by = created_by
        self.all_edges: tuple[Edge, ...] = tuple(edges)
        self.terminal: frozenset[str] = frozenset(s.name for s in statuses if s.terminal)
        self.active: frozenset[str] = frozenset(self.statuses) - self.terminal
        self.settled: frozenset[str] = self.terminal | frozenset(also_settled)
        self.waiting: frozenset[str] = self.settled - self.terminal
        """Settled but not terminal: where the object waits for the client (requires_action)."""
        self.trigger_names: frozenset[str] = frozenset(e.trigger for e in self.all_edges)
        """Every trigger an edge of this lifecycle names (the creating one aside)."""
        _validate(self, also_settled)
        self._edges = {
            lv: tuple(e for e in self.all_edges if lv.admits(e.evidence)) for lv in Strictness
        }
        self._direct = {
            lv: {(e.source, e.dest): e for e in reversed(self._edges[lv])} for lv in Strictness
        }
        self._by_trigger = {
            lv: {(e.source, e.trigger): e for e in self._edges[lv]} for lv in Strictness
        }
        self._out: dict[Strictness, dict[str, tuple[Edge, ...]]] = {
            lv: {s: tuple(e for e in self._edges[lv] if e.source == s) for s in self.statuses}
            for lv in Strictness
        }
        self._closures: dict[tuple[str, Strictness, frozenset[Actor]], frozenset[str]] = {}
        self._paths = {lv: self._all_paths(lv) for lv in Strictness}
        self._cycles = {lv: self._all_cycles(lv) for lv in Strictness}
        self._triggers = {
            lv: {
                (s, actor): tuple(e for e in self._out[lv][s] if e.actor is actor)
                for s in self.statuses
                for actor in Actor
            }
            for lv in Strictness
        }

    # -- lookups -------------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"<Lifecycle {self.name}: {len(self.statuses)} statuses, {len(self.all_edges)} edges>"
        )

    def __contains__(self, status: object) -> bool:
        return status in self._status_info

    def status(self, name: str) -> Status:
        """The `Status` record for a status name (KeyError for an unknown one)."""
        return self._status_info[name]

    def target(self, trigger: str) -> str:
        """The one status `trigger` leads to from wherever it is legal (``cancel`` → cancelling);
        `ModelDefinitionError` if it leads to several, KeyError if no edge names it."""
        dests = {e.dest for e in self.all_edges if e.trigger == trigger}
        if not dests:
            raise KeyError(f"{self.name}: no edge is triggered by {trigger!r}")
        if len(dests) > 1:
            raise ModelDefinitionError(
                f"{self.name}: {trigger!r} leads to several statuses: {', '.join(sorted(dests))}"
            )
        (dest,) = dests
        return dest

    def edges(self, strictness: Strictness = Strictness.STRICT) -> tuple[Edge, ...]:
        """The edges admitted at a strictness, in declaration order."""
        return self._edges[strictness]

    def edge(
        self, source: str, dest: str, strictness: Strictness = Strictness.STRICT
    ) -> Edge | None:
        """The direct edge from `source` to `dest`, or None."""
        return self._direct[strictness].get((source, dest))

    def out(self, status: str, strictness: Strictness = Strictness.STRICT) -> tuple[Edge, ...]:
        """Edges leaving `status`."""
        return self._out[strictness][status]

    def triggers(
        self, status: str, actor: Actor | None = None, strictness: Strictness = Strictness.STRICT
    ) -> tuple[Edge, ...]:
        """Edges that `actor` (or anyone) may fire in `status`."""
        if actor is None:
            return self._out[strictness][status]
        return self._triggers[strictness][(status, actor)]

    def fire(self, status: str, trigger: str, strictness: Strictness = Strictness.STRICT) -> Edge:
        """The edge that `trigger` takes from `status`; raises `IllegalTransition` if none."""
        edge = self._by_trigger[strictness].get((status, trigger))
        if edge is None:
            legal = [e.trigger for e in self._out[strictness].get(status, ())]
            raise IllegalTransition(self.name, status, trigger, strictness, legal)
        return edge

    def path(
        self,
        source: str,
        dest: str,
        strictness: Strictness = Strictness.STRICT,
        *,
        nonempty: bool = False,
    ) -> _Path | None:
        """The shortest path of edges from `source` to `dest`, or None if there is none.

        An empty tuple means "no move needed" (source == dest). With `nonempty`, a status must
        be left and re-entered (a second requires_action round is such a cycle).
        """
        if nonempty and source == dest:
            return self._cycles[strictness].get(source)
        return self._paths[strictness].get((source, dest))

    def search(
        self,
        source: str,
        dest: str,
        strictness: Strictness = Strictness.STRICT,
        *,
        allow: Callable[[Edge], bool],
        nonempty: bool = False,
    ) -> _Path | None:
        """The shortest path from `source` to `dest` over the edges that `allow` accepts, or None.

        Computed on demand, for restricted questions the tables cannot answer, such as "can the
        server get there without the client's help?". `nonempty` as in `path`.
        """
        if source == dest and not nonempty:
            return ()
        queue: deque[tuple[str, _Path]] = deque([(source, ())])
        seen = {source}
        while queue:
            here, path = queue.popleft()
            for e in self._out[strictness].get(here, ()):
                if not allow(e):
                    continue
                if e.dest == dest:
                    return (*path, e)
                if e.dest not in seen:
                    seen.add(e.dest)
                    queue.append((e.dest, (*path, e)))
        return None

    def best_path(
        self,
        source: str,
        dest: str,
        strictness: Strictness = Strictness.STRICT,
        *,
        allow: Callable[[Edge], bool] | None = None,
        nonempty: bool = False,
    ) -> _Path | None:
        """The path of highest grade from `source` to `dest` (its weakest edge graded best:
        D, then O, I, X), the shortest among those; None if there is none.

        An observation is explained by the best-attested way it can have come about: at the
        permissive level, a change that documented edges explain is not credited to an
        inferred shortcut. `allow` and `nonempty` as in `search`.
        """
        for worst in _GRADE_ORDER:
            ok = _AT_LEAST[worst]
            path = self.search(
                source,
                dest,
                strictness,
                allow=lambda e, ok=ok: e.grade in ok and (allow is None or allow(e)),  # type: ignore[misc]
                nonempty=nonempty,
            )
            if path is not None:
                return path
        return None

    def closure(
        self,
        status: str,
        strictness: Strictness = Strictness.STRICT,
        actors: Iterable[Actor] = (Actor.SERVER, Actor.CLOCK),
    ) -> frozenset[str]:
        """Every status the object can be in after `status` by moves of `actors` alone (the
        moves a client cannot see between two observations), `status` included.

        A client's action is judged against this set: a run last seen queued may have been
        started meanwhile (queued → in_progress is the server's), so a cancel is legal.
        """
        key = (status, strictness, frozenset(actors))
        found = self._closures.get(key)
        if found is None:
            who = key[2]
            seen = {status}
            frontier = [status]
            while frontier:
                here = frontier.pop()
                for e in self._out[strictness].get(here, ()):
                    if e.actor in who and e.dest not in seen:
                        seen.add(e.dest)
                        frontier.append(e.dest)
            found = self._closures[key] = frozenset(seen)
        return found

    def reachable(self, source: str, dest: str, strictness: Strictness = Strictness.STRICT) -> bool:
        """Whether `dest` can follow `source` (or equal it)."""
        return (source, dest) in self._paths[strictness]

    def level_needed(self, source: str, dest: str) -> Strictness | None:
        """The strictest level at which `dest` can follow `source`; None if at no level."""
        for lv in Strictness:  # declared strictest first
            if (source, dest) in self._paths[lv]:
                return lv
        return None

    def tracker(self, strictness: Strictness = Strictness.STRICT) -> Tracker:
        """A live instance of this lifecycle, driven through a `transitions` machine."""
        return Tracker(self, strictness)

    # -- precomputation ------------------------------------------------------------------------

    def _bfs(self, lv: Strictness, start: str) -> dict[str, _Path]:
        found: dict[str, _Path] = {start: ()}
        queue = deque([start])
        while queue:
            here = queue.popleft()
            for e in self._out[lv][here]:
                if e.dest not in found:
                    found[e.dest] = (*found[here], e)
                    queue.append(e.dest)
        return found

    def _all_paths(self, lv: Strictness) -> dict[tuple[str, str], _Path]:
        table: dict[tuple[str, str], _Path] = {}
        for a in self.statuses:
            for b, p in self._bfs(lv, a).items():
                table[(a, b)] = p
        return table

    def _all_cycles(self, lv: Strictness) -> dict[str, _Path]:
        cycles: dict[str, _Path] = {}
        for s in self.statuses:
            best: _Path | None = None
            for e in self._out[lv][s]:
                back = self._paths[lv].get((e.dest, s))
                if back is not None and (best is None or len(back) + 1 < len(best)):
                    best = (e, *back)
            if best is not None:
                cycles[s] = best
        return cycles


def _validate(lc: Lifecycle, also_settled: Iterable[str]) -> None:
    """Reject a broken definition, naming the statuses at fault."""
    names = lc.statuses
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ModelDefinitionError(f"{lc.name}: statuses declared twice: {', '.join(dupes)}")
    if lc.initial not in lc:
        raise ModelDefinitionError(f"{lc.name}: initial status {lc.initial!r} is not declared")
    if lc.created_by.dest != lc.initial:
        raise ModelDefinitionError(
            f"{lc.name}: the creating edge leads to {lc.created_by.dest!r}, "
            f"not to the initial status {lc.initial!r}"
        )
    if not lc.terminal:
        raise ModelDefinitionError(f"{lc.name}: no terminal status")
    unknown = sorted({s for e in lc.all_edges for s in (e.source, e.dest) if s not in lc})
    if unknown:
        raise ModelDefinitionError(
            f"{lc.name}: edges name undeclared statuses: {', '.join(unknown)}"
        )
    seen: dict[tuple[str, str], Edge] = {}
    for e in lc.all_edges:
        key = (e.source, e.trigger)
        if key in seen:
            raise ModelDefinitionError(
                f"{lc.name}: trigger {e.trigger!r} leaves {e.source!r} twice "
                f"(to {seen[key].dest!r} and to {e.dest!r})"
            )
        seen[key] = e
    # A terminal status absorbs at the strict level; a disputed report of one being left (a
    # response read cancelled, then completed) may stand as an untrusted edge, admitted only
    # at the permissive level.
    leaving = sorted(
        {e.source for e in lc.all_edges if e.source in lc.terminal and e.evidence.trusted}
    )
    if leaving:
        raise ModelDefinitionError(
            f"{lc.name}: terminal statuses must absorb, but trusted edges leave: "
            f"{', '.join(leaving)}"
        )
    bad_settled = sorted(set(also_settled) - set(names))
    if bad_settled:
        raise ModelDefinitionError(f"{lc.name}: settled names undeclared: {', '.join(bad_settled)}")
    for lv in Strictness:
        edges = [e for e in lc.all_edges if lv.admits(e.evidence)]
        reached = _closure(lc.initial, edges)
        if lv is Strictness.PERMISSIVE:
            unreachable = [s for s in names if s not in reached]
            if unreachable:
                raise ModelDefinitionError(
                    f"{lc.name}: statuses unreachable from {lc.initial!r}: {', '.join(unreachable)}"
                )
        traps = [s for s in names if s in reached and not (_closure(s, edges) & lc.terminal)]
        if traps:
            raise ModelDefinitionError(
                f"{lc.name}: at strictness {lv.value}, no terminal status can be reached from: "
                f"{', '.join(traps)}"
            )


def _closure(start: str, edges: Sequence[Edge]) -> frozenset[str]:
    seen = {start}
    frontier = [start]
    while frontier:
        here = frontier.pop()
        for e in edges:
            if e.source == here and e.dest not in seen:
                seen.add(e.dest)
                frontier.append(e.dest)
    return frozenset(seen)


class Tracker:
    """One live object of a lifecycle, moved by triggers through a `transitions` machine.

    The machine has no automatic ``to_<status>`` transitions, so only the model's edges exist;
    an illegal trigger raises `IllegalTransition` naming the status and the legal triggers.
    """

    status: str

    def __init__(self, lifecycle: Lifecycle, strictness: Strictness = Strictness.STRICT) -> None:
        self.lifecycle = lifecycle
        self.strictness = strictness
        self.history: list[Edge] = []
        transitions.Machine(
            model=self,
            states=list(lifecycle.statuses),
            transitions=[
                {"trigger": e.trigger, "source": e.source, "dest": e.dest}
                for e in lifecycle.edges(strictness)
            ],
            initial=lifecycle.initial,
            auto_transitions=False,
            ignore_invalid_triggers=False,
            model_attribute="status",
        )

    def fire(self, trigger: str) -> Edge:
        """Take the edge `trigger` names from the current status; return it."""
        edge = self.lifecycle.fire(self.status, trigger, self.strictness)
        machine_trigger: Any = getattr(self, "trigger")  # noqa: B009 - added by transitions
        machine_trigger(trigger)
        self.history.append(edge)
        return edge

    @property
    def terminal(self) -> bool:
        return self.status in self.lifecycle.terminal

    @property
    def settled(self) -> bool:
        return self.status in self.lifecycle.settled

    def __repr__(self) -> str:
        return f"<Tracker {self.lifecycle.name} status={self.status!r}>"
