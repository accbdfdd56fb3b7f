"""Report writers for the checker: readable text, JSON (stable schema) and JUnit XML.

A `Report` collects the engine's events (pass it as the engine's ``emit``); the writers render
it. Runs seen more than once (closed, then observed again) are merged by run id. Clean runs are
kept only as counts unless a writer lists every run (JSON, JUnit).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from runmodel import LIFECYCLES, RULES, Strictness

from .check import (
    CheckFinished,
    CheckStarted,
    CheckSummary,
    Event,
    RunChecked,
    RunResult,
    Severity,
    Violation,
    ViolationFound,
)

__all__ = ["FORMATS", "JSON_FORMAT", "JSON_VERSION", "Report", "to_json", "to_junit", "to_text"]

JSON_FORMAT = "runmodel-check"
"""The ``format`` field of the JSON report."""

JSON_VERSION = 1
"""The ``version`` field of the JSON report; bumped on any incompatible change of its schema."""


class Report:
    """Collects the engine's events; call it with each event (it is a valid ``emit``)."""

    def __init__(self, *, keep_clean: bool = True) -> None:
        self.keep_clean = keep_clean
        self.strictness = Strictness.STRICT
        self.failing: dict[str, RunResult] = {}
        self.clean: dict[str, RunResult] = {}
        self.other: list[Violation] = []
        self.summary: CheckSummary | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunChecked):
            self._add(event.result)
        elif isinstance(event, ViolationFound):
            self.other.append(event.violation)
        elif isinstance(event, CheckStarted):
            self.strictness = event.strictness
        elif isinstance(event, CheckFinished):
            self.summary = event.summary

    def wants(self, run_id: str) -> bool:
        """Whether this report would keep a result of `run_id` without violations (a checker's
        ``wants_clean``): when it keeps clean runs, or holds a failing part of that run."""
        return self.keep_clean or run_id in self.failing

    def _add(self, r: RunResult) -> None:
        rid = r.run_id
        prior = self.failing.get(rid) or self.clean.pop(rid, None)
        if prior is not None:
            r = _merge(prior, r)
        if r.violations:
            self.failing[rid] = r
        elif self.keep_clean:
            self.clean[rid] = r

    def runs(self) -> list[RunResult]:
        """Every run kept, failing and clean, in the order first reported."""
        return [*self.failing.values(), *self.clean.values()]


def _merge(a: RunResult, b: RunResult) -> RunResult:
    statuses = list(a.statuses)
    for s in b.statuses:
        if not statuses or statuses[-1] != s:
            statuses.append(s)
    order = {Strictness.STRICT: 0, Strictness.PERMISSIVE: 1, None: 2}
    level = a.level if order[a.level] >= order[b.level] else b.level
    return replace(
        a,
        thread_id=a.thread_id or b.thread_id,
        first_seen=a.first_seen or b.first_seen,
        observations=a.observations + b.observations,
        statuses=tuple(statuses),
        final_status=b.final_status or a.final_status,
        level=level,
        needs=tuple(dict.fromkeys(a.needs + b.needs)),
        violations=a.violations + b.violations,
    )


# -- text ------------------------------------------------------------------------------------


def _where(v: Violation) -> str:
    text = str(v.loc) if v.loc is not None else "(end of input)"
    return text if v.seq is None else f"{text} [#{v.seq}]"


def _violation_text(v: Violation, indent: str = "  ") -> list[str]:
    pad = indent + "    "
    lines = [
        f"{indent}{v.severity.value:<7} {v.code}  {_where(v)}"
        + (f"  (×{v.count})" if v.count > 1 else "")
    ]
    lines.append(f"{pad}{v.message}")
    if v.observed and v.observed != v.message:
        lines.append(f"{pad}observed: {v.observed}")
    if v.allowed:
        lines.append(f"{pad}allowed:  {v.allowed}")
    if v.path:
        lines.append(f"{pad}path:     {'; '.join(v.path)}")
    if v.needs:
        lines.append(f"{pad}needs:    {'; '.join(v.needs)} (admitted at permissive)")
    if v.evidence:
        lines.append(f"{pad}evidence: {v.evidence}")
    if v.hint:
        lines.append(f"{pad}hint:     {v.hint}")
    return lines


_VERDICT = {0: "conforms", 1: "does not conform", 2: "unusable input"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _warning_codes(report: Report) -> list[str]:
    """The codes of every warning, with counts when more than one, most frequent first."""
    counts: dict[str, int] = {}
    every = [v for r in report.failing.values() for v in r.violations] + report.other
    for v in every:
        if v.severity is Severity.WARNING:
            counts[v.code] = counts.get(v.code, 0) + v.count
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    return [code if n == 1 else f"{code} ×{n}" for code, n in ordered]


def _verdict(s: CheckSummary, report: Report | None = None) -> str:
    """The headline's verdict: a check that passes only with warnings says so, and which."""
    verdict = _VERDICT[s.exit_code]
    if s.exit_code == 2 or not s.warnings:
        return verdict
    codes = ", ".join(_warning_codes(report)) if report is not None else ""
    if s.exit_code == 0:
        return "conforms only with warnings" + (f" ({codes})" if codes else "")
    if not s.errors:  # --fail-on warning
        return "does not conform: warnings fail the check" + (f" ({codes})" if codes else "")
    return verdict


def _summary_line(s: CheckSummary, report: Report | None = None) -> str:
    failing = f", {s.failing_runs} failing" if s.failing_runs else ""
    return (
        f"{_verdict(s, report)} at {s.strictness.value}: {_plural(s.runs, 'run')}{failing}, "
        f"{_plural(s.observations, 'observation')}, {_plural(s.errors, 'error')}, "
        f"{_plural(s.warnings, 'warning')}"
    )


def _coverage_text(s: CheckSummary) -> list[str]:
    lines = ["coverage:"]
    for name, counts in s.coverage.edges.items():
        every = [(e.source, e.dest) for e in LIFECYCLES[name].edges(Strictness.PERMISSIVE)]
        seen = [f"{a} → {b} ×{counts[a, b]}" for a, b in every if counts.get((a, b))]
        text = f"  {name}: {len(seen)}/{len(every)} edges exercised"
        lines.append(text + (": " + ", ".join(seen) if seen else ""))
    rules = [r.code for rs in RULES.values() for r in rs]
    hit = sum(1 for c in rules if s.coverage.rules.get(c))
    lines.append(f"  rules: {hit}/{len(rules)} evaluated on at least one observation")
    return lines


def to_text(report: Report, *, coverage: bool = False) -> str:
    """Readable text: failing runs with their violations, other findings, then a summary line."""
    out: list[str] = []
    for r in report.failing.values():
        where = f"  ({r.first_seen})" if r.first_seen else ""
        thread = f"  thread {r.thread_id}" if r.thread_id else ""
        out.append(f"{r.lifecycle} {r.run_id}{thread}{where}")
        if r.statuses:
            out.append(f"  seen: {' → '.join(r.statuses)}")
        for v in r.violations:
            out.extend(_violation_text(v))
        out.append("")
    if report.other:
        out.append("not tied to a run:")
        for v in report.other:
            out.extend(_violation_text(v))
        out.append("")
    s = report.summary
    if s is not None:
        out.append(_summary_line(s, report))
        if s.needs:
            verb = "needed" if s.strictness is Strictness.STRICT else "used"
            out.append(f"permissive edges {verb}: {'; '.join(s.needs)}")
            if s.strictness is Strictness.STRICT and _only_needs(report):
                out.append("the input would conform at --strictness permissive")
        if s.unusable_files:
            out.append(f"unusable: {', '.join(s.unusable_files)}")
        if coverage:
            out.extend(_coverage_text(s))
    return "\n".join(out) + "\n"


def _only_needs(report: Report) -> bool:
    """Whether every error is explained by edges the permissive level admits."""
    errors = [
        v for r in report.failing.values() for v in r.violations if v.severity is Severity.ERROR
    ]
    errors += [v for v in report.other if v.severity is Severity.ERROR]
    return bool(errors) and all(v.needs for v in errors)


# -- JSON ------------------------------------------------------------------------------------


def _run_dict(r: RunResult) -> dict[str, Any]:
    return {
        "run_id": r.run_id,
        "thread_id": r.thread_id,
        "file": r.first_seen.file if r.first_seen else None,
        "line": r.first_seen.line if r.first_seen else None,
        "observations": r.observations,
        "statuses": list(r.statuses),
        "final_status": r.final_status,
        "level": r.level.value if r.level is not None else None,
        "needs_permissive": list(r.needs),
        "errors": r.errors,
        "warnings": r.warnings,
        "violations": [v.to_dict() for v in r.violations],
        **({"lifecycle": r.lifecycle} if r.lifecycle != "run" else {}),
    }


def to_json(report: Report) -> str:
    """The JSON report: format, version, strictness, summary, runs, other findings, coverage."""
    s = report.summary
    doc: dict[str, Any] = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "strictness": report.strictness.value,
        "summary": s.to_dict() if s is not None else None,
        "runs": [_run_dict(r) for r in report.runs()],
        "other": [v.to_dict() for v in report.other],
        "coverage": s.coverage.to_dict() if s is not None else None,
    }
    return _dumps(doc) + "\n"


def _dumps(doc: Any) -> str:
    """``json.dumps(doc, ensure_ascii=False, indent=2)``, byte for byte, in C: orjson writes the
    same for what a report holds (strings, integers, lists, dicts, no floats); what it refuses
    (a lone surrogate from a ``\\ud800`` escape, an integer beyond 64 bits) goes to `json`."""
    try:
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode()
    except TypeError:
        return json.dumps(doc, ensure_ascii=False, indent=2)


# -- JUnit XML -------------------------------------------------------------------------------


def _block(vs: list[Violation]) -> str:
    return "\n".join(line for v in vs for line in _violation_text(v, indent=""))


def to_junit(report: Report) -> str:
    """JUnit XML: one test case per run (failures carry its errors, and its warnings too with
    ``--fail-on warning``), one per other finding."""
    suite = ET.Element("testsuite", name="runmodel check")
    props = ET.SubElement(suite, "properties")
    ET.SubElement(props, "property", name="strictness", value=report.strictness.value)
    tests = failures = errors = 0
    s = report.summary
    strict_warnings = s is not None and s.fail_on is Severity.WARNING  # --fail-on warning
    for r in report.runs():
        tests += 1
        case = ET.SubElement(suite, "testcase", classname=f"runmodel.{r.lifecycle}", name=r.run_id)
        if r.first_seen is not None:
            case.set("file", r.first_seen.file)
            if r.first_seen.line is not None:
                case.set("line", str(r.first_seen.line))
        errs = [v for v in r.violations if v.severity is Severity.ERROR]
        warns = [v for v in r.violations if v.severity is Severity.WARNING]
        if strict_warnings:
            errs, warns = errs + warns, []
        if errs:
            failures += 1
            first = errs[0]
            more = f" (and {len(errs) - 1} more)" if len(errs) > 1 else ""
            fail = ET.SubElement(case, "failure", type=first.code, message=first.message + more)
            fail.text = _block(errs)
        if warns:
            ET.SubElement(case, "system-out").text = _block(warns)
    for v in report.other:
        tests += 1
        name = f"{v.code} {_where(v)}"
        case = ET.SubElement(suite, "testcase", classname="runmodel.input", name=name)
        if v.severity is Severity.ERROR or strict_warnings:
            errors += 1
            ET.SubElement(case, "error", type=v.code, message=v.message).text = _block([v])
        else:
            ET.SubElement(case, "system-out").text = _block([v])
    suite.set("tests", str(tests))
    suite.set("failures", str(failures))
    suite.set("errors", str(errors))
    suite.set("skipped", "0")
    root = ET.Element(
        "testsuites",
        name="runmodel check",
        tests=str(tests),
        failures=str(failures),
        errors=str(errors),
    )
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


FORMATS: dict[str, Callable[[Report], str]] = {"text": to_text, "json": to_json, "junit": to_junit}
"""Writers by ``--format`` name."""
