"""How one check is set up: its options, the assistant a client is given, and the scenario to
play read from what the user passed (a scenario, a script, or their text)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from runmodel import Strictness

from ..emulator import Move, Script, ScriptError, parse_script
from ..lesson import ORDER_ASSISTANT
from ..strategies import AppScenario, Scenario
from .results import Contract

__all__ = [
    "DEFAULT_ASSISTANT",
    "FUTURE_STATUS",
    "HANG_AFTER",
    "MESSAGE",
    "PLAIN",
    "TIME_BUDGET",
    "Options",
    "as_plan",
    "assistant_body",
]

HANG_AFTER = 10.0
"""Real seconds one lifecycle may take before the client is stopped as blocked (a wait that
nothing virtual can end: an Event with no timeout, a lock, a socket; or a loop that never polls)."""
TIME_BUDGET = 4 * 3600.0
"""Virtual seconds after which a client is stopped (a runaway)."""
FUTURE_STATUS = "a_future_status"
"""What `future_status` checks serve once in place of in_progress: a status no model knows."""

DEFAULT_ASSISTANT: Mapping[str, Any] = ORDER_ASSISTANT
"""The assistant a client is given unless told otherwise: one function tool."""

MESSAGE = "I bought a book and a laptop. What is my order total?"
"""The user's message on the thread a client is given."""

PLAIN = Scenario(Script((Move("start", 1.0), Move("complete", 1.0))))
"""What a created run past the drawn ones does: it completes."""


@dataclass(frozen=True, slots=True)
class Options:
    """Everything that shapes how a lifecycle is played and judged (and reproduced)."""

    contract: Contract
    strictness: Strictness
    settle_polls: int
    poll_interval: float | None
    future_status: bool = False
    raises_on_failure: bool = False
    assistant: Mapping[str, Any] = field(default_factory=lambda: DEFAULT_ASSISTANT)
    ignore: frozenset[str] = frozenset()
    hang_after: float = HANG_AFTER


def assistant_body(
    assistant: Mapping[str, Any] | None, tools: Sequence[Mapping[str, Any]] | None
) -> dict[str, Any]:
    """The create body of the assistant a client is given."""
    body = dict(assistant if assistant is not None else DEFAULT_ASSISTANT)
    body.setdefault("model", DEFAULT_ASSISTANT["model"])
    if tools is not None:
        body["tools"] = [dict(t) for t in tools]
    return body


def _as_scenario(value: Scenario | Script | str, level: Strictness) -> Scenario:
    if isinstance(value, Scenario):
        return value
    if isinstance(value, Script):
        return Scenario(value)
    text, _, calls_text = value.partition("; calls=")
    text, _, cancel = text.partition("; cancel_at=")
    calls: tuple[tuple[str, Any], ...] = ()
    if calls_text:
        try:
            data = orjson.loads(calls_text)
            calls = tuple((str(name), args) for name, args in data)
        except (orjson.JSONDecodeError, TypeError, ValueError):
            raise ScriptError(
                f"calls: expected a JSON list of [name, arguments] pairs, not {calls_text!r}"
            ) from None
    try:
        cancel_at = float(cancel) if cancel else None
    except ValueError:
        raise ScriptError(f"cancel_at: expected a number of seconds, not {cancel!r}") from None
    return Scenario(parse_script(text, strictness=level), cancel_at, calls)


def as_plan(
    value: Scenario | AppScenario | Script | str, level: Strictness, contract: Contract
) -> Scenario | AppScenario:
    """The scenario to play: one run's, or (app contract) the runs' separated by `` | ``."""
    if contract is not Contract.APP:
        if isinstance(value, AppScenario):
            raise ScriptError(f"the {contract.value} contract plays one run, not several")
        return _as_scenario(value, level)
    if isinstance(value, AppScenario):
        return value
    if isinstance(value, str):
        return AppScenario(tuple(_as_scenario(part, level) for part in value.split("|")))
    return AppScenario((_as_scenario(value, level),))
