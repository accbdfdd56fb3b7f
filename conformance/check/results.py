"""What the checking engine reports: violations, per-run results, coverage, summary, events.

The engine emits `Event`s; reporters (`conformance.reports`) consume them. Everything here is a
frozen dataclass with a ``to_dict`` where it appears in the JSON report, whose schema is stable.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runmodel import Evidence, Strictness

from ..observations import Location

__all__ = [
    "CheckFinished",
    "CheckStarted",
    "CheckSummary",
    "Coverage",
    "Event",
    "RunChecked",
    "RunResult",
    "Severity",
    "Violation",
    "ViolationFound",
]


class Severity(str, enum.Enum):
    """Errors fail the check (exit code 1); warnings are reported, and fail it only when asked
    (``runmodel check --fail-on warning``)."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Violation:
    """One finding: what was observed, what the model allows, why (grade, sources), how to fix."""

    code: str
    severity: Severity
    message: str
    run_id: str | None = None
    subject: str | None = None  # the run, step or message the finding is about
    loc: Location | None = None
    seq: int | None = None
    observed: str = ""
    allowed: str = ""
    grade: str | None = None  # e.g. "D/O"
    sources: tuple[str, ...] = ()
    hint: str = ""
    path: tuple[str, ...] = ()  # the edges that explain (or would explain) the change
    needs: tuple[str, ...] = ()  # untrusted edges it needs (admitted only at permissive)
    rule: str | None = None  # the model's rule or link code, where one applies
    count: int = 1  # times found for this subject (a rule is judged again when its fields change)

    @classmethod
    def of(
        cls,
        code: str,
        severity: Severity,
        message: str,
        where: tuple[str | None, str | None, Location | None, int | None],
        *,
        observed: str = "",
        allowed: str = "",
        ev: Evidence | None = None,
        hint: str = "",
        path: tuple[str, ...] = (),
        needs: tuple[str, ...] = (),
        rule: str | None = None,
    ) -> Violation:
        """A violation located by ``(run_id, subject, loc, seq)``, graded by the fact's evidence."""
        run_id, subject, loc, seq = where
        grade, sources = (ev.label, ev.sources) if ev is not None else (None, ())
        return cls(
            code,
            severity,
            message,
            run_id,
            subject,
            loc,
            seq,
            observed,
            allowed,
            grade,
            sources,
            hint,
            path,
            needs,
            rule,
        )

    @property
    def evidence(self) -> str | None:
        """Grade and sources as one citation, like `Evidence.cite`."""
        if self.grade is None:
            return None
        return f"{self.grade} ({', '.join(self.sources)})" if self.sources else self.grade

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (part of the JSON report's stable schema)."""
        loc = self.loc
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "run_id": self.run_id,
            "subject": self.subject,
            "file": loc.file if loc else None,
            "line": loc.line if loc else None,
            "where": loc.where if loc else None,
            "seq": self.seq,
            "observed": self.observed,
            "allowed": self.allowed,
            "grade": self.grade,
            "sources": list(self.sources),
            "hint": self.hint,
            "path": list(self.path),
            "needs": list(self.needs),
            "rule": self.rule,
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run showed: its statuses, the level its moves need, and its violations."""

    run_id: str
    thread_id: str | None
    first_seen: Location | None
    observations: int
    statuses: tuple[str, ...]  # distinct consecutive statuses observed (the first 64)
    final_status: str | None
    level: Strictness | None  # strictest level explaining every move; None: no level does
    needs: tuple[str, ...]  # untrusted edges its moves needed
    violations: tuple[Violation, ...]
    lifecycle: str = "run"  # the model lifecycle of the object (a run, or e.g. a response)

    @property
    def errors(self) -> int:
        """Violations of error severity."""
        return sum(v.severity is Severity.ERROR for v in self.violations)

    @property
    def warnings(self) -> int:
        """Violations of warning severity."""
        return sum(v.severity is Severity.WARNING for v in self.violations)


@dataclass(frozen=True, slots=True)
class Coverage:
    """Which edges, rules and links the input exercised, with counts.

    `edges`: lifecycle name → ``{(source, dest): count}``, source ``""`` being the creating edge;
    every edge of a path that explains an observed change counts (skipped statuses too).
    `rules`: rule code → observations it applied to (for a stateful rule: observations with a
    previous one to compare); an identical repeat of the previous observation is not counted.
    `links`: link code → times it found a violation.
    """

    edges: Mapping[str, Mapping[tuple[str, str], int]]
    rules: Mapping[str, int]
    links: Mapping[str, int]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping; edges keyed ``"source -> dest"`` (``(create)`` for ``""``)."""
        return {
            "edges": {
                lc: {f"{a or '(create)'} -> {b}": n for (a, b), n in sorted(m.items())}
                for lc, m in self.edges.items()
            },
            "rules": dict(sorted(self.rules.items())),
            "links": dict(sorted(self.links.items())),
        }


@dataclass(frozen=True, slots=True)
class CheckSummary:
    """Counts over the whole input, the untrusted edges it needed, coverage, the exit code."""

    strictness: Strictness
    items: int
    observations: int
    runs: int
    failing_runs: int
    errors: int
    warnings: int
    input_problems: int
    unusable_files: tuple[str, ...]
    needs: tuple[str, ...]  # untrusted edges the input needed (at permissive: used)
    coverage: Coverage
    fail_on: Severity = Severity.ERROR  # the least severity that fails the check

    @property
    def exit_code(self) -> int:
        """2 when a file could not be used at all, else 1 on errors (or on warnings, when
        `fail_on` is warning), else 0."""
        if self.unusable_files:
            return 2
        if self.errors:
            return 1
        return 1 if self.warnings and self.fail_on is Severity.WARNING else 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (coverage is reported beside it)."""
        return {
            "strictness": self.strictness.value,
            "items": self.items,
            "observations": self.observations,
            "runs": self.runs,
            "failing_runs": self.failing_runs,
            "errors": self.errors,
            "warnings": self.warnings,
            "input_problems": self.input_problems,
            "unusable_files": list(self.unusable_files),
            "needs_permissive": list(self.needs),
            "fail_on": self.fail_on.value,
            "exit_code": self.exit_code,
        }


@dataclass(frozen=True, slots=True)
class CheckStarted:
    """The engine started, at this strictness."""

    strictness: Strictness


@dataclass(frozen=True, slots=True)
class RunChecked:
    """A run's state was closed (terminal and settled, or end of input)."""

    result: RunResult


@dataclass(frozen=True, slots=True)
class ViolationFound:
    """A violation that belongs to no run (input problems, objects without a run)."""

    violation: Violation


@dataclass(frozen=True, slots=True)
class CheckFinished:
    """The input is exhausted: the summary and coverage."""

    summary: CheckSummary


Event = CheckStarted | RunChecked | ViolationFound | CheckFinished
