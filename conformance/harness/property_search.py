"""One check's searches, whatever the lifecycle: Hypothesis draws plans, each is played and
judged, and every failing property is searched for and shrunk on its own.

A lifecycle's search (`search._Search` for runs, `response_search` for background responses)
says which properties it judges, in which order, the strategy of its plans, how one plan is
played, which of two counterexamples is plainer, and the failure it raises; this class does the
rest: the budget, the per-property searches, the plainest witness, a blocked client's stop,
Ctrl-C, and the progress line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from runmodel import RunmodelError

from .results import CheckInterrupted, Progress
from .watchdog import BLOCKED

__all__ = ["Exploration", "PropertySearch", "Witnessed"]

# Hypothesis's explain phase traces every line of the client (sys.settrace) to say which lines a
# failure ran: several times slower, and the kit's report says what the client did already.
_PHASES = tuple(p for p in Phase if p is not Phase.explain)
_LEAST_EXAMPLES = 10  # lifecycles a search after a finding draws, however little budget is left


class Witnessed(Protocol):
    """A counterexample as a search sees it: the property it breaks, and what happened."""

    @property
    def prop(self) -> str: ...

    @property
    def message(self) -> str: ...


class Exploration(Protocol):
    """What a search explored: lifecycles played, and the paths they covered."""

    examples: int

    def add(self, *paths: tuple[str, ...]) -> None: ...


Plan = TypeVar("Plan")
Found = TypeVar("Found", bound=Witnessed)
Explored = TypeVar("Explored", bound=Exploration)


class _Found(RunmodelError):
    """A search's failing example: which property failed (the counterexample is kept aside)."""

    def __init__(self, prop: str) -> None:
        self.prop = prop
        super().__init__(prop)


class _StopSearch(BaseException):
    """Ends a search at once (Hypothesis lets a BaseException through)."""

    def __init__(self, found: Witnessed) -> None:
        super().__init__(found.message)
        self.found = found


class PropertySearch(Generic[Plan, Found, Explored]):
    """The searches of one check; a subclass gives the lifecycle's hooks (see the module)."""

    seed: ClassVar[int]
    """The seed of a search given none, so that it meets the same lifecycles every time."""

    def __init__(self, summary: Explored, progress: Callable[[Progress], None] | None) -> None:
        self.summary = summary
        self.progress = progress
        self.found: dict[str, Found] = {}
        self.searched: set[str] = set()
        self.current: list[Found] = []

    # -- the lifecycle's hooks -----------------------------------------------------------------

    def properties(self) -> Sequence[str]:
        """The properties judged, in order of root cause."""
        raise NotImplementedError

    def strategy(self) -> st.SearchStrategy[Plan]:
        """The plans to draw."""
        raise NotImplementedError

    def play(
        self, plan: Plan, ignore: frozenset[str] | None, data: st.DataObject | None
    ) -> tuple[Sequence[tuple[str, ...]], list[Found]]:
        """Play one plan: the paths it covered and its counterexamples, but none for the
        properties in `ignore` (None: a replay, which judges every property)."""
        raise NotImplementedError

    def simplicity(self, found: Found) -> tuple[Any, ...]:
        """A sort key: plainer counterexamples first."""
        raise NotImplementedError

    def fail(self, found: list[Found]) -> Exception:
        """The failure to raise for these counterexamples."""
        raise NotImplementedError

    # -- the searches --------------------------------------------------------------------------

    def tell(self, phase: str) -> None:
        if self.progress is not None:
            failing = len(self.found) + bool(self.current)
            phase = "shrinking" if self.current else phase
            self.progress(Progress(self.summary.examples, failing, phase))

    def replay(self, plan: Plan) -> Explored:
        """Play one lifecycle; raise its findings."""
        __tracebackhide__ = True
        try:
            paths, findings = self.play(plan, None, None)
            self.summary.add(*paths)
            self.current.extend(findings)
            self.tell("replaying")
        except KeyboardInterrupt:
            raise self.interrupted() from None
        if findings:
            raise self.fail(findings)
        return self.summary

    def interrupted(self) -> CheckInterrupted:
        for f in sorted(self.current, key=self.simplicity):
            self.found.setdefault(f.prop, f)
        found = self.fail(list(self.found.values())) if self.found else None
        return CheckInterrupted(self.summary, found)  # type: ignore[arg-type]

    def run(self, max_examples: int | None, seed: int | None) -> Explored:
        """Search until every property either held or has its plainest counterexample."""
        __tracebackhide__ = True
        try:
            self._searches(max_examples, seed)
        except _StopSearch as stop:
            self.found[stop.found.prop] = stop.found  # type: ignore[assignment]
            raise self.fail(list(self.found.values())) from None
        except KeyboardInterrupt:
            raise self.interrupted() from None
        if self.found:
            raise self.fail(list(self.found.values()))
        return self.summary

    def _searches(self, max_examples: int | None, seed: int | None) -> None:
        # one search per failing property: each search passes over the properties already found
        # (the client is not stopped for them), so the next one is found and shrunk too; the
        # lifecycles drawn before a failure count against one budget of examples (each later
        # search still draws a few), so a client with one bug costs about what a correct one
        # does, plus shrinking
        strategy = self.strategy()
        budget = max_examples if max_examples is not None else settings().max_examples
        conf = settings(
            max_examples=budget,
            deadline=None,
            database=None,
            derandomize=seed is None,
            verbosity=Verbosity.quiet,
            print_blob=False,
            report_multiple_bugs=False,
            suppress_health_check=list(HealthCheck),
            phases=_PHASES,
        )
        while len(self.searched) < len(self.properties()):
            limit = budget if not self.searched else max(_LEAST_EXAMPLES, budget)
            drawn = [0]
            test = settings(conf, max_examples=limit)(given(strategy, st.data())(self._one(drawn)))
            test = hypothesis_seed(self.seed if seed is None else seed)(test)
            self.current.clear()
            try:
                test()
            except _Found as last:
                # Hypothesis shrinks by its own order; report the simplest failure of the same
                # property the search witnessed, so the lifecycle a reader sees is the plainest.
                same = [f for f in self.current if f.prop == last.prop]
                self.found[last.prop] = min(same, key=self.simplicity)
                self.searched.add(last.prop)
                budget -= drawn[0]
                continue
            break

    def _one(self, drawn: list[int]) -> Callable[[Plan, st.DataObject], None]:
        """The test of one search: play a drawn lifecycle, stop at a fresh failure."""
        ignore = frozenset(self.searched)

        def one(plan: Plan, data: st.DataObject) -> None:
            paths, findings = self.play(plan, ignore, data)
            self.summary.add(*paths)
            if not self.current:
                drawn[0] += 1
            fresh = [f for f in findings if f.prop not in self.searched]
            self.current.extend(fresh)
            self.tell("searching")
            for f in fresh:
                if f.prop == "terminates" and BLOCKED in f.message:
                    raise _StopSearch(f)  # every replay would take `hang_after` again
            if fresh:
                raise _Found(fresh[0].prop)

        return one
