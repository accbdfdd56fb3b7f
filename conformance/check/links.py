"""Steps and messages judged against their run (`runmodel.LINKS`): a child in a status its
run's status rules out, e.g. a step still in progress while its run is completed."""

from __future__ import annotations

from runmodel import LINKS, MESSAGE, RUN, STEP, Link

from ..observations import Location
from .findings import Findings
from .results import Severity, Violation
from .state import ChildState, RunState

__all__ = ["Links"]

_HINT = "A step or message settles with its run."

_LINKS: dict[tuple[str, str, str], tuple[Link, ...]] = {
    (lc.name, r, c): tuple(
        k for k in LINKS if k.lifecycle == lc.name and r in k.run_statuses and c in k.from_statuses
    )
    for lc in (STEP, MESSAGE)
    for r in RUN.statuses
    for c in lc.statuses
}


class Links:
    """Judges a step or message against its run (`judge`); counts the links judged (`counts`:
    link code -> times) and sends what fails to `findings`."""

    def __init__(self, findings: Findings) -> None:
        self._add = findings.add
        self.counts: dict[str, int] = {}

    def judge(
        self,
        run: RunState,
        child: ChildState,
        loc: Location | None,
        seq: int | None,
        *,
        end: bool = False,
    ) -> None:
        """Judge `child` against `run` as both were last seen (`end`: at the end of input, where
        only a warning: the child was not seen again)."""
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
            self.counts[link.code] = self.counts.get(link.code, 0) + 1
            when = " at the end of input" if end else ""
            msg = (
                f"{child.lc.name} {child.oid} is {child.status}{when} while its run is {run.status}"
            )
            observed = f"run {run.status}, {child.lc.name} {child.status}"
            if end:
                observed += " (last seen before its run's last observation)"
            trusted = link.evidence.trusted
            self._add(
                run,
                Violation.of(
                    f"link.{link.code}",
                    Severity.WARNING if end or not trusted else Severity.ERROR,
                    msg,
                    (run.oid, child.oid, loc, seq),
                    observed=observed,
                    allowed=f"{child.lc.name} {', '.join(sorted(link.expected))}: {link.summary}",
                    ev=link.evidence,
                    hint=_HINT,
                    rule=link.code,
                ),
            )
