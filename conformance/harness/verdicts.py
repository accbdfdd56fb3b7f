"""Judging a played lifecycle: what the client did in the end, the context every property reads,
and the registry of contracts, each an ordered list of properties, keyed by lifecycle and
contract name (a lifecycle adds its contracts by registering them, not by editing the harness)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..emulator.clock import ClientInterrupted
from .options import Options
from .server import Server
from .watch import Tracked, Watch
from .watchdog import raised_where

__all__ = [
    "DELETED",
    "ContractRules",
    "Finding",
    "Judging",
    "PlayOutcome",
    "Property",
    "contract_rules",
    "describe",
    "register",
    "registered",
]

Finding = tuple[str, str, str | None]
"""A failed property: (its name, the message, the run it concerns)."""


@dataclass(slots=True)
class PlayOutcome:
    """How the client's call ended: what it returned or raised, or the stop raised into it."""

    returned: Any = None
    raised: BaseException | None = None
    hung: ClientInterrupted | None = None


@dataclass
class Judging:
    """Everything a property reads: the outcome, the server, the watch and the options; the
    findings so far (a later property may depend on an earlier one's), and whether judging
    stopped (a stopped client is judged by why it was stopped alone)."""

    out: PlayOutcome
    emu: Server
    watch: Watch
    options: Options
    found: list[Finding] = field(default_factory=list)
    stopped: bool = False
    unanswered: list[Tracked] = field(default_factory=list)  # active runs already reported
    final: dict[str, str] = field(init=False)
    """Each tracked run's status once the client was done (``deleted`` if its thread was)."""

    def __post_init__(self) -> None:
        # read first, as a retrieve would: moving a run to now may play a round, whose tool
        # calls are drawn, so when it happens shapes what the search draws next
        emu = self.emu
        self.final = {
            t.run_id: str(emu.run_object(t.run_id)["status"]) if t.run_id in emu.runs else DELETED
            for t in self.runs
        }

    @property
    def runs(self) -> list[Tracked]:
        return list(self.watch.runs.values())

    @property
    def last(self) -> str | None:
        """The run a finding about the whole lifecycle concerns: the last one tracked."""
        runs = self.runs
        return runs[-1].run_id if runs else None

    @functools.cached_property
    def what(self) -> str:
        """How the client ended, in words: returned, or raised what (and where)."""
        raised = self.out.raised
        if raised is None:
            return "the client returned"
        where = raised_where(raised)
        return f"the client raised {describe(raised)}" + (f" (at {where})" if where else "")


DELETED = "deleted"
"""The final status of a run whose thread the client deleted."""


def describe(exc: BaseException) -> str:
    """An exception in a line; API errors by status and the server's message (the SDK majors
    word ``str(exc)`` differently)."""
    status, body = getattr(exc, "status_code", None), getattr(exc, "body", None)
    if isinstance(status, int) and isinstance(body, dict) and isinstance(body.get("message"), str):
        return f"{type(exc).__name__} ({status}): {body['message']}"
    return f"{type(exc).__name__}: {exc}"


Judge = Callable[[Judging], Sequence[Finding]]
"""A property's judgement of a played lifecycle: its findings (none if it held)."""


@dataclass(frozen=True, slots=True)
class Property:
    """One property of a contract: its name and its judgement."""

    name: str
    judge: Judge


@dataclass(frozen=True, slots=True)
class ContractRules:
    """A contract of one lifecycle: its properties, in order of root cause."""

    lifecycle: str
    contract: str
    properties: tuple[Property, ...]

    def judge(self, judging: Judging) -> list[Finding]:
        """Every property that failed, in order, until one stops the judging."""
        for prop in self.properties:
            judging.found.extend(prop.judge(judging))
            if judging.stopped:
                break
        return judging.found


_REGISTRY: dict[tuple[str, str], ContractRules] = {}


def register(lifecycle: str, contract: str, properties: Sequence[Property]) -> ContractRules:
    """Add (or replace) the contract `contract` of lifecycle `lifecycle`."""
    rules = ContractRules(lifecycle, contract, tuple(properties))
    _REGISTRY[lifecycle, contract] = rules
    return rules


def contract_rules(lifecycle: str, contract: str) -> ContractRules:
    """The contract registered for `lifecycle` under `contract`."""
    try:
        return _REGISTRY[lifecycle, contract]
    except KeyError:
        known = ", ".join(f"{lc}/{c}" for lc, c in _REGISTRY)
        raise KeyError(
            f"no contract {contract!r} for the {lifecycle} lifecycle ({known})"
        ) from None


def registered() -> list[tuple[str, str]]:
    """Every (lifecycle, contract) registered, in order of registration."""
    return list(_REGISTRY)
