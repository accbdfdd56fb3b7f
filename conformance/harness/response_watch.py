"""Following a background-responses client while it runs on the emulator (the responses it
covers, its pace, a third party's cancel scheduled on the emulator's clock, the stop raised into
one that keeps polling a response that will not change) and what every property of its contract
reads once it is done (`ResponseJudging`)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from runmodel import RESPONSE

from ..emulator import Emulator, Request, Sleep
from ..emulator.clock import ClientInterrupted
from ..response_strategies import ResponseScenario
from .record import json_body, segments
from .response_results import GIVE_UP_AFTER, ResponseContract, ResponseOptions
from .results import Action, ClientHung, PolledTooFast
from .verdicts import DELETED, Finding, PlayOutcome, describe
from .watchdog import raised_where

__all__ = ["ResponseJudging", "ResponseWatch", "TrackedResponse", "seen_response", "stream_of"]


@dataclass(slots=True)
class TrackedResponse:
    """A response the contract covers, and how the client treats it."""

    response_id: str
    label: str
    settled_status: str | None = None
    after_settled: int = 0


def seen_response(rec: Request, response_id: str) -> dict[str, Any] | None:
    """The response a reply showed the client, if any (a JSON body, or the response of a
    stream's last lifecycle event)."""
    if rec.events is not None:
        last = None
        for _, data in rec.stream_events():
            obj = data.get("response") if isinstance(data, dict) else None
            if isinstance(obj, dict) and obj.get("id") == response_id:
                last = obj
        return last
    body = rec.json() if rec.status is not None else None
    if (
        isinstance(body, dict)
        and body.get("object") == "response"
        and body.get("id") == response_id
    ):
        return body
    return None


def stream_of(rec: Request) -> list[int]:
    """The sequence numbers a stream sent the client, in order."""
    return [
        int(data["sequence_number"])
        for _, data in rec.stream_events()
        if isinstance(data, dict) and isinstance(data.get("sequence_number"), int)
    ]


class ResponseWatch:
    """Follows a client's requests: the responses it creates, its pace between polls, and a
    client that keeps polling a response that is terminal or that the server never moves
    again."""

    def __init__(self, emu: Emulator, options: ResponseOptions, plan: ResponseScenario) -> None:
        self.emu = emu
        self.options = options
        self.plan = plan
        self.tracked: dict[str, TrackedResponse] = {}
        self.busy = False
        self.start = emu.clock.now()
        self.previous: Request | None = None
        self.sleep_mark = 0
        self.too_fast: str | None = None
        self.hung: TrackedResponse | None = None
        self.stop: ClientInterrupted | None = None

    def track(self, response_id: str) -> TrackedResponse:
        n = len(self.tracked) + 1
        label = "{resp}" if self.options.contract is ResponseContract.POLLER else f"{{resp{n}}}"
        tracked = TrackedResponse(response_id, label)
        self.tracked[response_id] = tracked
        if n == 1 and self.plan.cancel_at is not None:  # a third party cancels the first one
            created = self.emu.responses[response_id].history[0].at
            self.emu.schedule_cancel(response_id, created + self.plan.cancel_at)
        return tracked

    def on_request(self, rec: Request) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            created = rec.method == "POST" and segments(rec.path) == ["responses"]
            rid = rec.response_id
            if created and rec.status == 200 and rid and rid not in self.tracked:
                self.track(rid)
            self._pace(rec)
            self._hang(rec)
        finally:
            self.busy = False

    def is_poll(self, rec: Request | None) -> str | None:
        """The tracked response a request polls (a plain GET of it), if any."""
        if rec is None or rec.method != "GET" or rec.response_id not in self.tracked:
            return None
        if "stream=true" in rec.query or segments(rec.path)[-1] != rec.response_id:
            return None
        return rec.response_id

    def _slept(self) -> float:
        sleeps = self.emu.clock.sleeps
        return sum(s.seconds for s in sleeps[self.sleep_mark :])

    def _pace(self, rec: Request) -> None:
        """Two polls of a response in a row need the given interval's sleep between them; a
        client that polls faster is stopped (or, once that is a known finding, noted)."""
        slept = self._slept()
        self.sleep_mark = len(self.emu.clock.sleeps)
        previous, self.previous = self.previous, rec
        polled = self.is_poll(rec)
        if polled is None or self.is_poll(previous) != polled:
            return
        least = self.options.least
        if slept + 1e-9 < least:
            how = "without sleeping" if slept == 0 else f"after sleeping only {slept:g} s"
            message = (
                f"the client polled the response again {how}; it was given a poll interval "
                f"of {least:g} s (poll_interval)"
            )
            if "sleeps_between_polls" not in self.options.ignore:
                raise self._stopping(PolledTooFast(message))
            self.too_fast = self.too_fast or message

    def before_request(self, method: str, path: str) -> None:
        """Once polling too fast is a known finding, a poll that comes too soon waits first,
        so that the search goes on to find what else is wrong at a patient client's pace."""
        if "sleeps_between_polls" not in self.options.ignore or method != "GET":
            return
        last = self.is_poll(self.previous)
        if last is None or segments(path)[-1] != last:
            return
        self.emu.clock.advance(self.options.least - self._slept())

    def _hang(self, rec: Request) -> None:
        for tracked in self.tracked.values():
            resp = self.emu.responses[tracked.response_id]
            if resp.deleted or rec.response_id != tracked.response_id:
                continue
            status = self.emu.response_object(tracked.response_id)["status"]
            if status in RESPONSE.terminal:
                if tracked.settled_status is None:
                    tracked.settled_status = status
                    continue
                tracked.after_settled += 1
                if tracked.after_settled >= self.options.settle_polls:
                    self.hung = tracked
                    raise self._stopping(
                        ClientHung(f"the client kept asking after the response became {status}")
                    )
                continue
            moved_at = resp.history[-1].at
            # the server's own next move (a third party's cancel is not the server's)
            never_moves = resp.due is None
            if never_moves and rec.at - moved_at > GIVE_UP_AFTER:
                tracked.settled_status = status
                self.hung = tracked
                raise self._stopping(
                    ClientHung(f"the client kept polling a response left {status}")
                )

    def _stopping(self, stop: ClientInterrupted) -> ClientInterrupted:
        self.stop = self.stop or stop
        return stop

    def on_sleep(self, _sleep: Sleep) -> None:
        """A client that sleeps after it was stopped swallowed the stop: raise it again."""
        if self.stop is not None:
            raise type(self.stop)(*self.stop.args)

    # -- what the client did ----------------------------------------------------------------------

    def requests(self) -> Iterable[Request]:
        """The requests the client made (not the third party's)."""
        external = {r.seq for r in self.emu.third_party}
        return (r for r in self.emu.requests if r.seq not in external)

    def short(self, text: str) -> str:
        """A path with the responses' ids shown by their labels."""
        text = text.removeprefix("/v1")
        for tracked in self.tracked.values():
            text = text.replace(tracked.response_id, tracked.label)
        return text

    def actions(self) -> tuple[Action, ...]:
        """Every request and sleep of the client, in order, with the status each showed (for a
        stream, the sequence numbers it sent)."""
        out: list[Action] = []
        events = sorted(
            [(r.seq, r) for r in self.requests()] + [(s.seq, s) for s in self.emu.clock.sleeps],
            key=lambda x: x[0],
        )
        for _, ev in events:
            at = ev.at - self.start
            if isinstance(ev, Request):
                what = f"{ev.method} {self.short(ev.path)}"
                query = dict(parse_qsl(ev.query))
                if query:
                    what += "?" + "&".join(f"{k}={v}" for k, v in sorted(query.items()))
                rid = ev.response_id
                seen = seen_response(ev, rid) if rid is not None else None
                shown = str(seen["status"]) if seen is not None else None
                if ev.events is not None:
                    numbers = stream_of(ev)
                    sent = f"events {numbers[0]}–{numbers[-1]}" if numbers else "no events"
                    shown = f"{sent}, {shown}" if shown else sent
                out.append(Action(at, what, ev.status, shown))
            else:
                out.append(Action(at, "sleep", seconds=ev.seconds))
        return tuple(out)


@dataclass
class ResponseJudging:
    """Everything a property reads: the outcome, the emulator, the watch and the options; the
    findings so far, and whether judging stopped (a stopped client is judged by that alone)."""

    out: PlayOutcome
    emu: Emulator
    watch: ResponseWatch
    options: ResponseOptions
    found: list[Finding] = field(default_factory=list)
    stopped: bool = False
    final: dict[str, str] = field(init=False)
    """Each tracked response's status once the client was done (``deleted`` if it was)."""

    def __post_init__(self) -> None:
        emu = self.emu
        self.final = {
            rid: DELETED if emu.responses[rid].deleted else str(emu.response_object(rid)["status"])
            for rid in self.watch.tracked
        }

    @property
    def responses(self) -> list[TrackedResponse]:
        return list(self.watch.tracked.values())

    @property
    def last(self) -> str | None:
        ids = list(self.watch.tracked)
        return ids[-1] if ids else None

    def creates(self) -> list[tuple[Request, dict[str, Any]]]:
        """Every create the client sent, with its body."""
        out = []
        for rec in self.watch.requests():
            if rec.method == "POST" and segments(rec.path) == ["responses"]:
                body = json_body(rec.body)
                out.append((rec, body if isinstance(body, dict) else {}))
        return out

    def cancelled_by_client(self, response_id: str) -> bool:
        return any(
            r.method == "POST" and segments(r.path) == ["responses", response_id, "cancel"]
            for r in self.watch.requests()
        )

    @functools.cached_property
    def what(self) -> str:
        """How the client ended, in words."""
        raised = self.out.raised
        if raised is None:
            return "the client returned"
        where = raised_where(raised)
        return f"the client raised {describe(raised)}" + (f" (at {where})" if where else "")
