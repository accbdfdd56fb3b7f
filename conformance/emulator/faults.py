"""Injected faults: rate limits, server errors, dropped connections, slow replies, streams that
drop mid-way, and replies lost after their request took effect.

A fault is decided before a request touches any state, so a faulted request has no effect (a
slow reply is only late; a dropped stream's request takes effect, and its object goes on; so
does a lost reply's).
Faults come from a schedule (the next N requests that match a method and a path pattern) or at
random from a seeded generator, so a failing run can be replayed.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Literal

__all__ = ["Fault", "FaultKind", "Faults", "parse_faults"]

FaultKind = Literal["rate_limit", "server_error", "disconnect", "slow", "stream_drop", "lost_reply"]
_KINDS: tuple[FaultKind, ...] = (
    "rate_limit",
    "server_error",
    "disconnect",
    "slow",
    "stream_drop",
    "lost_reply",
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault; `seconds` is a rate limit's ``retry-after``, a slow reply's delay;
    `events` is how many events a dropped stream sends.

    rate_limit → 429 with ``retry-after``; server_error → 500; disconnect → the connection drops
    before any reply (the HTTP library's connection error); slow → the reply comes `seconds` later;
    stream_drop → the request is answered, but its stream breaks off after `events` events (the
    HTTP library's protocol error, as when a server closes a chunked body early); a reply that
    is not a stream is unaffected; lost_reply → the request takes effect (a create creates), but
    the connection drops before its reply (the HTTP library's connection error, as disconnect):
    a client that retries does it twice.
    """

    kind: FaultKind
    seconds: float = 1.0
    events: int = 3

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; faults: {', '.join(_KINDS)}")
        if self.seconds < 0:
            raise ValueError("fault seconds must not be negative")
        if self.events < 0:
            raise ValueError("a dropped stream's events must not be negative")


@dataclass(slots=True)
class _Scheduled:
    fault: Fault
    method: str | None
    path: str | None
    count: int


class Faults:
    """Which requests fail, and how: a schedule first, then seeded random draws."""

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._scheduled: list[_Scheduled] = []
        self._rng = random.Random(seed)
        self._rates: list[tuple[float, Fault]] = []
        self.injected: list[tuple[int, Fault]] = []
        """(request seq, fault) for every fault given, in order."""

    def schedule(
        self,
        fault: Fault | FaultKind,
        *,
        method: str | None = None,
        path: str | None = None,
        count: int = 1,
        seconds: float | None = None,
        events: int | None = None,
    ) -> None:
        """Give `fault` to the next `count` requests matching `method` and the glob `path`.

        `path` is matched without the ``/v1`` prefix, e.g. ``"/threads/*/runs/*"``.
        """
        if isinstance(fault, str):
            fault = Fault(
                fault,
                1.0 if seconds is None else seconds,
                3 if events is None else events,
            )
        with self._lock:
            self._scheduled.append(_Scheduled(fault, method and method.upper(), path, count))

    def random(
        self,
        *,
        rate_limit: float = 0.0,
        server_error: float = 0.0,
        disconnect: float = 0.0,
        slow: float = 0.0,
        stream_drop: float = 0.0,
        lost_reply: float = 0.0,
        retry_after: float = 1.0,
        slow_seconds: float = 5.0,
        drop_after: float = 3,
        seed: int | None = None,
    ) -> None:
        """Fail each request at random with these probabilities (their sum must be at most 1)."""
        rates = [
            (rate_limit, Fault("rate_limit", retry_after)),
            (server_error, Fault("server_error")),
            (disconnect, Fault("disconnect")),
            (slow, Fault("slow", slow_seconds)),
            (stream_drop, Fault("stream_drop", events=int(drop_after))),
            (lost_reply, Fault("lost_reply")),
        ]
        if any(p < 0 for p, _ in rates) or sum(p for p, _ in rates) > 1:
            raise ValueError("fault probabilities must be non-negative and add up to at most 1")
        with self._lock:
            if seed is not None:
                self._rng = random.Random(seed)
            self._rates = [(p, f) for p, f in rates if p > 0]

    def clear(self) -> None:
        """No more faults."""
        with self._lock:
            self._scheduled.clear()
            self._rates = []

    def __bool__(self) -> bool:
        return bool(self._scheduled or self._rates)

    def pick(self, seq: int, method: str, path: str) -> Fault | None:
        """The fault for this request, if any (consumes the schedule and one random draw)."""
        with self._lock:
            for entry in self._scheduled:
                if (entry.method is None or entry.method == method) and (
                    entry.path is None or fnmatchcase(path, entry.path)
                ):
                    entry.count -= 1
                    if entry.count <= 0:
                        self._scheduled.remove(entry)
                    self.injected.append((seq, entry.fault))
                    return entry.fault
            if self._rates:
                draw = self._rng.random()
                for p, fault in self._rates:
                    if draw < p:
                        self.injected.append((seq, fault))
                        return fault
                    draw -= p
        return None


def parse_faults(text: str) -> dict[str, float]:
    """Read ``"rate_limit=0.1,server_error=0.05,disconnect=0.01,slow=0.1,stream_drop=0.1"``
    (and ``lost_reply``)
    into keyword args for `Faults.random`; ValueError names the bad part."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = part.partition("=")
        key = key.strip()
        if key not in _KINDS or not eq:
            raise ValueError(
                f"{part!r}: expected KIND=PROBABILITY with KIND one of {', '.join(_KINDS)}"
            )
        try:
            p = float(value)
        except ValueError:
            raise ValueError(f"{part!r}: {value.strip()!r} is not a probability") from None
        if not 0 <= p <= 1:
            raise ValueError(f"{part!r}: a probability is between 0 and 1")
        out[key] = p
    if sum(out.values()) > 1:
        raise ValueError("fault probabilities add up to more than 1")
    return out
