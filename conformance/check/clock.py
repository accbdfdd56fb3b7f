"""Time in recorded traffic: the server's clock, by the ``Date`` headers of its replies, and
runs judged against their ``expires_at`` by it."""

from __future__ import annotations

from datetime import timezone
from email.utils import parsedate_to_datetime
from typing import Any

from runmodel import RUN, Actor, Strictness

from ..observations import Exchange, Location
from .findings import Findings
from .results import Severity, Violation
from .state import RunState

__all__ = ["EXPIRY_GRACE", "ServerClock"]

EXPIRY_GRACE = 60.0
"""Seconds past ``expires_at`` before an active run is flagged: by the server's clock where a
reply's ``Date`` header showed it (1-second resolution), else by the recorder's wall clock."""

_HINT = "The server should expire a run that outlives expires_at."


class ServerClock:
    """The server's clock per file (`observe` each reply; `server_time`), and runs judged
    against their expires_at by it (`expiry`), findings to `findings`."""

    def __init__(
        self, strictness: Strictness, findings: Findings, grace: float = EXPIRY_GRACE
    ) -> None:
        self.strictness = strictness
        self._add = findings.add
        self._grace = grace
        # file -> the server's clock minus the recorder's wall clock, by the last Date header
        self._offsets: dict[str, float] = {}

    def observe(self, ex: Exchange) -> None:
        """Keep the server's clock offset from a reply's ``Date`` header (an RFC 7231 HTTP-date),
        for judging expiry in this file from now on; a header that does not parse is ignored."""
        date = ex.response_headers.get("date")
        if ex.wall is None or type(date) is not str:
            return
        try:
            when = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError, OverflowError):
            return
        if when.tzinfo is None:  # "-0000": UTC, by RFC 5322
            when = when.replace(tzinfo=timezone.utc)
        self._offsets[ex.loc.file] = when.timestamp() - ex.wall

    def server_time(self, loc: Location, wall: float | None) -> float | None:
        """The server's time at `wall`, by the offset its last Date header in that file showed
        (the wall time itself where none did); None when the item has no wall time."""
        if wall is None:
            return None
        return wall + self._offsets.get(loc.file, 0.0)

    def expiry(
        self,
        run: RunState,
        obj: dict[str, Any],
        status: str,
        wall: float,
        loc: Location,
        seq: int | None,
    ) -> None:
        """Judge an active run against its expires_at, by the server's clock where a Date header
        showed it (the recorder's wall time plus that offset), else by the wall time."""
        exp: Any = obj.get("expires_at")
        offset = self._offsets.get(loc.file)
        now = wall if offset is None else wall + offset
        if type(exp) not in (int, float) or now <= exp + self._grace:
            return
        clock = RUN.triggers(status, Actor.CLOCK, self.strictness)
        if not clock:
            return  # the model (at this level) lets this status outlive expires_at
        edge = clock[0]
        msg = f"run {run.oid} is still {status} {now - exp:.0f} s after its expires_at"
        observed = f"{status} at wall time {wall:.0f}, expires_at {exp}"
        if offset is not None:
            observed = (
                f"{status} at server time {now:.0f} (wall time {wall:.0f}; the server's clock, "
                f"by its Date header, {offset:+.0f} s from it), expires_at {exp}"
            )
        self._add(
            run,
            Violation.of(
                "run.expiry_not_honoured",
                Severity.ERROR if edge.evidence.trusted else Severity.WARNING,
                msg,
                (run.oid, run.oid, loc, seq),
                observed=observed,
                allowed=str(edge),
                ev=edge.evidence,
                hint=_HINT,
                path=(str(edge),),
            ),
        )
