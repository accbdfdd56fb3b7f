"""How each part of the kit treats a fact the model grades inferred or disputed, from its grade.

One policy, read from the model: an untrusted edge (no documented or observed grade) is
admitted only at the permissive level, by the checker and the emulator alike; a field rule or a
link is judged at every level, an error when trusted and a warning when not. `untrusted_facts`
lists every fact graded I or X (alone or beside another grade) with what ``runmodel check`` and
``runmodel serve`` do with it at each strictness; `untrusted_table` renders that list as the
Markdown table of ``docs/violations.md`` (a test keeps the two equal).
"""

from __future__ import annotations

from dataclasses import dataclass

from runmodel import LIFECYCLES, LINKS, RULES, Actor, Edge, Evidence, Grade, Trigger

from .errors import ERROR_TEMPLATES

__all__ = ["Treatment", "untrusted_facts", "untrusted_table"]

_DOUBTFUL = (Grade.INFERRED, Grade.DISPUTED)
_CLIENT_CODE = {
    Trigger.CANCEL: ("client.cancel_illegal", "cancel_not_allowed"),
    Trigger.SUBMIT_TOOL_OUTPUTS: ("client.submit_outside_requires_action", "submit_not_accepted"),
}


@dataclass(frozen=True, slots=True)
class Treatment:
    """One fact graded I or X, and what the checker and the emulator do with it per level."""

    fact: str
    kind: str  # "client edge", "server edge", "clock edge", "field rule", "link"
    evidence: Evidence
    check_strict: str
    check_permissive: str
    serve_strict: str
    serve_permissive: str


def _severity(ev: Evidence) -> str:
    return "error" if ev.trusted else "warning"


def _edge(lc: str, e: Edge) -> Treatment:
    ev = e.evidence
    fact = f"{lc}: {e.source} → {e.dest} ({e.trigger})"
    move = f"a move only it explains: `{lc}.illegal_transition` (error, naming it under needs)"
    if e.source in LIFECYCLES[lc].terminal:  # (at strict, terminal statuses absorb)
        move = f"a move only it explains: `{lc}.terminal_left` (error)"
    if ev.trusted:  # a trusted edge that is also disputed: admitted everywhere
        same = "admitted"
        return Treatment(fact, f"{e.actor.value} edge", ev, same, same, same, same)
    if e.actor is Actor.CLIENT and e.trigger in _CLIENT_CODE:
        code, reply = _CLIENT_CODE[e.trigger]
        text = ERROR_TEMPLATES[reply].format(status=e.source)
        return Treatment(
            fact,
            "client edge",
            ev,
            f"an action only it allows, in every status the run could be in unseen: `{code}` "
            f"(error, naming it under needs); {move}",
            "admitted (listed as used); a refusal of an action only it allows: "
            f"`server.error_mismatch` (warning, graded {ev.label})",
            f"refuses the action: HTTP 400 `{text}`",
            "accepts the action",
        )
    if e.actor is Actor.CLOCK:
        serve = (
            "never takes it: the run takes its next scripted move, and expires after it",
            "takes it when the run's clock passes expires_at",
        )
    else:
        serve = ("never takes it", f"takes it when a {lc}'s script asks")
    return Treatment(fact, f"{e.actor.value} edge", ev, move, "admitted (listed as used)", *serve)


def untrusted_facts() -> tuple[Treatment, ...]:
    """Every edge, field rule and link whose grades include inferred or disputed, in model
    order, with its treatment by ``check`` and ``serve`` at each strictness."""
    out: list[Treatment] = []
    for name, lc in LIFECYCLES.items():
        out.extend(
            _edge(name, e) for e in lc.all_edges if any(g in _DOUBTFUL for g in e.evidence.grades)
        )
    for name, rules in RULES.items():
        for r in rules:
            ev = r.evidence
            if any(g in _DOUBTFUL for g in ev.grades):
                code = f"`{name}.field.{r.code.removeprefix(name + '.')}`"
                judged = f"{code} ({_severity(ev)})"
                out.append(
                    Treatment(
                        f"{r.code}: {r.summary}",
                        "field rule",
                        ev,
                        judged,
                        judged,
                        "its objects keep the rule",
                        "its objects keep the rule",
                    )
                )
    for link in LINKS:
        ev = link.evidence
        if any(g in _DOUBTFUL for g in ev.grades):
            judged = f"`link.{link.code}` ({_severity(ev)})"
            out.append(
                Treatment(
                    f"{link.code}: {link.summary}",
                    "link",
                    ev,
                    judged,
                    judged,
                    "settles steps and messages with their run",
                    "settles steps and messages with their run",
                )
            )
    return tuple(out)


def untrusted_table() -> str:
    """`untrusted_facts` as a Markdown table (the one in ``docs/violations.md``)."""
    rows = [
        "| fact | kind | grade | `check` strict | `check` permissive | `serve` strict "
        "| `serve` permissive |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in untrusted_facts():
        cells = (
            t.fact,
            t.kind,
            t.evidence.cite(),
            t.check_strict,
            t.check_permissive,
            t.serve_strict,
            t.serve_permissive,
        )
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows) + "\n"
