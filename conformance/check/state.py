"""What the checker remembers of an open run, step or message, and of closed ones.

Plain records with public attributes: the checker's parts (moves, field rules, links, client
actions) read and update them directly, each the attributes its judgement is about.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from runmodel import RUN, Lifecycle

from ..observations import Location

__all__ = ["NO_TRIGGERS", "ChildState", "Recent", "RunState"]

NO_TRIGGERS: frozenset[str] = frozenset()
"""A run's `RunState.triggers` when the client fired none since its last observation."""

_K = TypeVar("_K")
_V = TypeVar("_V")


class RunState:
    """An open run, or another object of a lifecycle of its own (one no other object holds,
    e.g. a response): its last known status and observation, and what was found about it."""

    __slots__ = (
        "calls",
        "children",
        "first_loc",
        "found",
        "last",
        "lc",
        "level",
        "needs",
        "observations",
        "oid",
        "said",
        "seen",
        "status",
        "statuses",
        "thread_id",
        "triggers",
        "via_http",
    )

    def __init__(self, oid: str, status: str | None = None, lc: Lifecycle = RUN) -> None:
        self.oid = oid
        self.lc = lc
        self.thread_id: str | None = None
        self.status = status  # last known status (None: not known yet)
        self.last: dict[str, Any] | None = None  # last observed object, for stateful rules
        self.seen: tuple[Any, ...] | None = None  # its watched values (see `FieldRules.judge`)
        self.said: Any = None  # its status
        self.via_http = False  # the last observation came from recorded HTTP traffic
        self.calls: tuple[str, ...] = ()  # tool call ids of the current requires_action round
        # client triggers fired since the last observation (replaced, never changed in place)
        self.triggers: frozenset[str] = NO_TRIGGERS
        self.children: set[tuple[str, str]] | None = None  # open steps and messages
        self.observations = 0
        self.statuses: list[str] = [] if status is None else [status]
        self.level = 0  # 0 strict, 1 permissive, 2 no level explains its moves
        self.needs: dict[str, None] | None = None
        self.found: dict[tuple[str, str | None, str | None], list[Any]] | None = None
        self.first_loc: Location | None = None


class ChildState:
    """An open run step or message."""

    __slots__ = (
        "calls",
        "judged",
        "kind",
        "last",
        "lc",
        "oid",
        "run_id",
        "said",
        "seen",
        "status",
    )

    def __init__(self, lc: Lifecycle, oid: str, run_id: str | None, status: str | None) -> None:
        self.lc = lc
        self.oid = oid
        self.run_id = run_id
        self.status = status
        self.last: dict[str, Any] | None = None
        self.seen: tuple[Any, ...] | None = None
        self.said: Any = None
        self.kind: str | None = None  # a step's type
        self.calls: frozenset[str] = frozenset()  # a tool_calls step's call ids
        self.judged: str | None = None  # the run status its links were last judged against


class Recent(Generic[_K, _V]):
    """A bounded memory of recently added keys: at least the `size` // 2 most recent, at most
    `size`. Two generations of plain dicts, the older dropped whole: no per-entry links and no
    churn, so memory stays flat however long the input (an exact LRU's grew by a quarter)."""

    __slots__ = ("_half", "_old", "_young")

    def __init__(self, size: int) -> None:
        self._half = max(1, size // 2)
        self._young: dict[_K, _V] = {}
        self._old: dict[_K, _V] = {}

    def add(self, key: _K, value: _V) -> None:
        """Remember `key` (the older generation is dropped when the younger fills)."""
        young = self._young
        young[key] = value
        if len(young) >= self._half:
            self._old, self._young = young, {}

    def pop(self, key: _K, default: _V | None = None) -> _V | None:
        """Forget `key`, returning what it held (`default` if it is not remembered)."""
        young = self._young
        if key in young:
            self._old.pop(key, None)
            return young.pop(key)
        return self._old.pop(key, default)

    def get(self, key: _K, default: _V | None = None) -> _V | None:
        """What `key` holds, if it is remembered (`default` if not)."""
        young = self._young
        return young[key] if key in young else self._old.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._young or key in self._old
