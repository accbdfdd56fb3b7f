"""Where the checker's parts put what they find: one sink, which keeps each run's findings
(one per code and subject) until the run is closed, and reports the others at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..observations import Location
from .results import Event, Severity, Violation, ViolationFound
from .state import RunState

__all__ = ["Findings", "Where", "finding"]

Where = tuple[str | None, str | None, Location | None, int | None]
"""Where a finding is: run id, subject (run, step or message id), location, seq."""

_ERR = Severity.ERROR
_MOVES = (".illegal_transition", ".terminal_left", ".moved_without_client")


def finding(
    hints: dict[str, str],
    code: str,
    severity: Severity,
    message: str,
    where: Where,
    **details: Any,
) -> Violation:
    """A `Violation`, with the hint `hints` gives its code unless `details` name one."""
    details.setdefault("hint", hints.get(code, ""))
    return Violation.of(code, severity, message, where, **details)


class Findings:
    """The findings so far: `add` them; a run's are kept on its `RunState` (and reported when
    it is closed), the others go to `emit` as `ViolationFound` at once. Counts errors,
    warnings, failing runs and the untrusted edges the moves needed."""

    __slots__ = ("_emit", "errors", "failing", "needs", "observer", "warnings")

    def __init__(
        self, emit: Callable[[Event], None], observer: Callable[[str, str], None] | None = None
    ) -> None:
        self._emit = emit
        self.observer = observer
        """Told ``("need", edge)`` the first time an edge is needed (what a merge replays)."""
        self.errors = 0
        self.warnings = 0
        self.failing: set[str] = set()
        """Runs with an error."""
        self.needs: dict[str, None] = {}
        """Every untrusted edge some move or action took, in order."""

    def add(self, run: RunState | None, v: Violation) -> None:
        """A finding about `run` (None: about no run)."""
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

    def need(self, run: RunState | None, needs: tuple[str, ...]) -> None:
        """Record untrusted edges a move took: the run needs the permissive level."""
        for n in needs:
            if self.observer is not None and n not in self.needs:
                self.observer("need", n)
            self.needs[n] = None
            if run is not None:
                if run.needs is None:
                    run.needs = {}
                run.needs[n] = None
        if needs:
            self.level(run, 1)

    @staticmethod
    def level(run: RunState | None, level: int) -> None:
        """Raise the level the run's moves need (`RunState.level`)."""
        if run is not None and level > run.level:
            run.level = level

    def _count(self, v: Violation, run_id: str | None) -> None:
        if v.severity is _ERR:
            self.errors += 1
            if run_id is not None:
                self.failing.add(run_id)
        else:
            self.warnings += 1
