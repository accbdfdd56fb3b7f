"""What a check tells its user: the contracts, the stops raised into a client, the counterexamples
and the summary of a passing search, and how they are rendered."""

from __future__ import annotations

import enum
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from runmodel import RUN, Lifecycle, RunmodelError, Strictness

from ..emulator.clock import ClientInterrupted

if TYPE_CHECKING:
    from ..strategies import AppScenario, Scenario

__all__ = [
    "Action",
    "CannotCheck",
    "CheckInterrupted",
    "ClientBlocked",
    "ClientCheckFailed",
    "ClientHung",
    "Contract",
    "Counterexample",
    "PolledTooFast",
    "Progress",
    "SearchSummary",
    "compress",
    "render_failures",
]


class Contract(str, enum.Enum):
    """What a client promises.

    waiter: returns a settled run (terminal or requires_action) whose status is the server's.
    driver: answers every tool call of every round (all ids, one request per round), never
    submits or cancels illegally, and returns only when the run is terminal.
    app: creates its own runs on the thread and assistant it is given; drives each as a driver
    does, leaves none active, and starts a new run only once the last one was cancelled or ended.
    """

    WAITER = "waiter"
    DRIVER = "driver"
    APP = "app"

    @property
    def done(self) -> frozenset[str]:
        """Statuses after which the client should stop asking."""
        return RUN.settled if self is Contract.WAITER else RUN.terminal


class ClientHung(ClientInterrupted):
    """Raised into a client that keeps asking after the run settled; ``except Exception`` cannot
    swallow it."""


class PolledTooFast(ClientInterrupted):
    """Raised into a client that polls again sooner than the server asked."""


class ClientBlocked(ClientInterrupted):
    """Raised into a client still running after `HANG_AFTER` real seconds; `where` says where it
    was (its own file and line)."""

    def __init__(self, message: str, where: str | None = None) -> None:
        super().__init__(message)
        self.where = where


class CannotCheck(RunmodelError):
    """The check cannot start: a target with the wrong signature, or an openai SDK the kit cannot
    drive. A usage error, not a finding about the client."""


class CheckInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search: what was explored, and the plainest counterexample found so far."""

    def __init__(self, summary: SearchSummary, found: ClientCheckFailed | None) -> None:
        super().__init__()
        self.summary = summary
        self.found = found


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a search is, after each lifecycle: for a progress line on a terminal."""

    lifecycles: int
    failures: int
    phase: str  # "searching", "shrinking" (a failure was found) or "replaying"


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the client did: a request (with the run status it saw) or a sleep."""

    at: float  # virtual seconds since the run was created
    what: str  # "GET /threads/{thread}/runs/{run}", "sleep"
    status: int | None = None  # HTTP status (None for sleeps and dropped connections)
    seen: str | None = None  # the run status in the reply, where there was one
    seconds: float = 0.0  # for sleeps

    def key(self) -> tuple[str, int | None, str | None]:
        return (self.what, self.status, self.seen)


@dataclass(frozen=True, slots=True)
class Counterexample:
    """A lifecycle that breaks a client: which property, the run's path, and what happened."""

    prop: str
    contract: Contract
    scenario: Scenario | AppScenario
    path: tuple[str, ...]
    message: str
    actions: tuple[Action, ...]

    def render(self, reproduce: str | None = None) -> str:
        """The report a developer reads: the path and the failure first, then the evidence."""
        lines = [
            f"{' → '.join(self.path)}: {self.message}",
            "",
            f"  contract:  {self.contract.value} (property: {self.prop})",
            f"  scenario:  {self.scenario}",
            f"  the client did (virtual seconds since {self._since}):",
            *(f"    {line}" for line in compress(self.actions)),
        ]
        if reproduce:
            lines += ["", f"  reproduce: {reproduce}"]
        return "\n".join(lines)

    @property
    def _since(self) -> str:
        return "it began" if self.contract is Contract.APP else "the run was created"

    def as_dict(self) -> dict[str, Any]:
        return {
            "property": self.prop,
            "contract": self.contract.value,
            "scenario": str(self.scenario),
            "path": list(self.path),
            "message": self.message,
            "actions": compress(self.actions),
        }


class ClientCheckFailed(RunmodelError, AssertionError):
    """Properties failed; the message is each one's minimal counterexample, rendered.

    `counterexamples` lists them in order of root cause; `counterexample` is the first.
    """

    def __init__(
        self,
        found: Counterexample | Sequence[Counterexample],
        reproduce: str | Sequence[str | None] | None = None,
    ) -> None:
        self.counterexamples = (found,) if isinstance(found, Counterexample) else tuple(found)
        self.counterexample = self.counterexamples[0]
        how = (
            [reproduce] * len(self.counterexamples)
            if reproduce is None or isinstance(reproduce, str)
            else list(reproduce)
        )
        super().__init__(render_failures(self.counterexamples, how))


class _Rendered(Protocol):
    @property
    def prop(self) -> str: ...

    def render(self, reproduce: str | None = None) -> str: ...


def render_failures(found: Sequence[_Rendered], reproduce: Sequence[str | None]) -> str:
    """Counterexamples as one message: the one, or each numbered under a line naming them all."""
    texts = [c.render(r) for c, r in zip(found, reproduce, strict=False)]
    if len(texts) > 1:
        props = ", ".join(c.prop for c in found)
        texts = [
            f"{len(texts)} properties failed ({props}), each with its smallest lifecycle:",
            *(f"\n[{i}] {t}" for i, t in enumerate(texts, 1)),
        ]
    return "\n".join(texts)


@dataclass(slots=True)
class SearchSummary:
    """What a passing check explored: examples, and the statuses and edges of its lifecycle
    (runs unless told) reached."""

    contract: enum.Enum
    strictness: Strictness
    examples: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    edges: Counter[tuple[str, str]] = field(default_factory=Counter)
    lifecycle: Lifecycle = RUN

    def add(self, *paths: tuple[str, ...]) -> None:
        """One lifecycle played: the paths of the objects (runs, responses) it covered."""
        self.examples += 1
        for path in paths:
            self.statuses.update(path)
            self.edges.update(itertools.pairwise(path))

    def render(self) -> str:
        model = self.lifecycle.edges(self.strictness)
        covered = [e for e in model if (e.source, e.dest) in self.edges]
        missing = [f"{e.source} → {e.dest}" for e in model if (e.source, e.dest) not in self.edges]
        lines = [
            f"every property of the {self.contract.value} contract held in {self.examples} "
            f"lifecycle{'' if self.examples == 1 else 's'} ({self.strictness.value})",
            f"  statuses reached: {len(self.statuses)} of {len(self.lifecycle.statuses)}",
            f"  edges exercised:  {len(covered)} of {len(model)}",
        ]
        if missing:
            lines.append(f"  not reached: {', '.join(missing)}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        named = {} if self.lifecycle is RUN else {"lifecycle": self.lifecycle.name}
        return {
            **named,
            "contract": self.contract.value,
            "strictness": self.strictness.value,
            "examples": self.examples,
            "statuses": dict(sorted(self.statuses.items())),
            "edges": {f"{a} → {b}": n for (a, b), n in sorted(self.edges.items())},
        }


# -- the client's actions, compressed ---------------------------------------------------------


def _groups(actions: tuple[Action, ...]) -> list[list[Action]]:
    """Consecutive repeats of the same request (with the sleeps between them) form one group."""
    groups: list[list[Action]] = []
    for a in actions:
        if a.what == "sleep" and groups:
            groups[-1].append(a)
            continue
        last = (
            next((x for x in reversed(groups[-1]) if x.what != "sleep"), None) if groups else None
        )
        if last is not None and last.key() == a.key():
            groups[-1].append(a)
        else:
            groups.append([a])
    return groups


def _compress_line(group: list[Action]) -> str:
    requests = [a for a in group if a.what != "sleep"]
    sleeps = [a.seconds for a in group if a.what == "sleep"]
    first = requests[0] if requests else group[0]
    text = f"{first.at:8.2f}s  {first.what}"
    if first.what != "sleep":
        text += f" → {first.status if first.status is not None else 'dropped'}"
        if first.seen:
            text += f" {first.seen}"
    if len(requests) > 1:
        text += f"  ×{len(requests)} (until {requests[-1].at:.2f}s)"
    if sleeps:
        each = sorted(set(sleeps))
        text += (
            f", sleeping {each[0]:g} s"
            if len(each) == 1
            else f", sleeping {min(each):g}–{max(each):g} s"
        )
    return text


def compress(actions: tuple[Action, ...]) -> list[str]:
    """The client's actions as a report lists them: one line per group of repeated requests
    (with the sleeps between them)."""
    return [_compress_line(g) for g in _groups(actions)]
