"""Following a client while it runs: the runs it covers, its pace, the other party's cancels,
and the stop raised into a client that keeps asking or polls too fast."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from runmodel import RUN, Actor, Trigger

from ..emulator import Request, Script, Sleep
from ..emulator.clock import ClientInterrupted
from ..strategies import AppScenario, Scenario
from .options import PLAIN, Options
from .record import json_body, seen_run, segments
from .results import Action, ClientHung, Contract, PolledTooFast
from .server import Server

__all__ = ["Tracked", "Watch"]

_HEADERS = {"openai-beta": "assistants=v2"}


@dataclass(slots=True)
class Tracked:
    """A run the contract covers: where it came from, what it plays, how the client treats it."""

    run_id: str
    thread_id: str
    created: float
    scenario: Scenario
    label: str = "{run}"
    cancelled: bool = False  # the other party's cancel has been played
    settled_status: str | None = None
    after_settled: int = 0
    calls: list[tuple[str, Any]] = field(default_factory=list)


class Watch:
    """Follows a client's requests while it runs: plays the other party's cancels, stops hangs,
    and notes the runs it creates and what it owns."""

    def __init__(self, emu: Server, options: Options, plan: Scenario | AppScenario) -> None:
        self.emu = emu
        self.options = options
        self.plan = plan.runs if isinstance(plan, AppScenario) else (plan,)
        self.runs: dict[str, Tracked] = {}
        self.thread_id = self.assistant_id = ""
        self.start = emu.clock.now()
        self.external: set[int] = set()
        self.owned: set[str] = set()  # threads and assistants the client created
        self.busy = False
        self.previous: Request | None = None
        self.sleep_mark = 0
        self.too_fast: str | None = None
        self.hung_run: Tracked | None = None
        self.stop: ClientInterrupted | None = None  # raised into the client; raised again below
        hint = (emu.poll_after_ms or 1000) / 1000
        self.least = options.poll_interval if options.poll_interval is not None else hint

    @property
    def app(self) -> bool:
        return self.options.contract is Contract.APP

    def track(self, run_id: str, thread_id: str, created: float) -> Tracked:
        index = len(self.runs)
        scenario = self.plan[index] if index < len(self.plan) else PLAIN
        label = f"{{run{index + 1}}}" if self.app else "{run}"
        tracked = Tracked(run_id, thread_id, created, scenario, label)
        self.runs[run_id] = tracked
        return tracked

    def choose(self, thread: Mapping[str, Any], run: Mapping[str, Any]) -> Script:
        """The script of a run the client creates: the plan's next one."""
        index = len(self.runs)
        return (self.plan[index] if index < len(self.plan) else PLAIN).script

    def on_request(self, rec: Request) -> None:
        if self.busy:
            return
        self.busy = True
        try:
            self._note(rec)
            self._pace(rec)
            for tracked in list(self.runs.values()):
                self._other_party(tracked, rec.at)
            self._hang(rec)
        finally:
            self.busy = False

    def _note(self, rec: Request) -> None:
        """A run, thread or assistant the client created."""
        if rec.method != "POST" or rec.status != 200:
            return
        parts = segments(rec.path)
        body = json_body(rec.response) if rec.response is not None else None
        if parts in (["assistants"], ["threads"]) and isinstance(body, dict):
            self.owned.add(str(body.get("id")))
        created_run = parts == ["threads", "runs"] or (
            len(parts) == 3 and parts[0] == "threads" and parts[2] == "runs"
        )
        if created_run and rec.run_id is not None and rec.run_id in self.emu.runs:
            thread_id = self.emu.thread_of(rec.run_id)
            if parts == ["threads", "runs"]:
                self.owned.add(thread_id)
            if self.app and rec.run_id not in self.runs:
                self.track(rec.run_id, thread_id, rec.at)

    def _is_poll(self, rec: Request) -> str | None:
        """The tracked run a request polls (GET of the run), if any."""
        if rec.method != "GET" or rec.run_id not in self.runs:
            return None
        return rec.run_id if rec.path.endswith(f"/runs/{rec.run_id}") else None

    def _pace(self, rec: Request) -> None:
        """Two polls of a run in a row need the hint's sleep between them (a poll right after
        another action, e.g. a submit, needs none); a client that polls faster is stopped at
        once, or, once that is a known finding, made to wait (so that the search goes on to find
        what else is wrong)."""
        sleeps = self.emu.clock.sleeps
        slept = sum(s.seconds for s in sleeps[self.sleep_mark :])
        self.sleep_mark = len(sleeps)
        previous, self.previous = self.previous, rec
        polled = self._is_poll(rec)
        if previous is None or polled is None or self._is_poll(previous) != polled:
            return
        if slept + 1e-9 < self.least:
            how = "without sleeping" if slept == 0 else f"after sleeping only {slept:g} s"
            asked = "the interval it was given" if self.options.poll_interval else "the server"
            source = "poll_interval" if self.options.poll_interval else "openai-poll-after-ms"
            message = (
                f"the client polled the run again {how}; {asked} asked for {self.least:g} s "
                f"({source})"
            )
            if "sleeps_between_polls" not in self.options.ignore:
                raise self._stopping(PolledTooFast(message))
            self.too_fast = self.too_fast or message

    def before_request(self, method: str, path: str) -> None:
        """Once polling too fast is a known finding, a poll that comes too soon is made to wait
        first, as long as it should have or until its run next changes, so that the search goes
        on to find what else is wrong (at the pace of a patient client)."""
        if "sleeps_between_polls" not in self.options.ignore or method != "GET":
            return
        previous = self.previous
        polled = segments(path)[-1]
        if previous is None or polled not in self.runs or self._is_poll(previous) != polled:
            return
        if not path.endswith(f"/runs/{polled}"):
            return
        clock = self.emu.clock
        slept = sum(s.seconds for s in clock.sleeps[self.sleep_mark :])
        if slept + 1e-9 >= self.least:
            return
        target = clock.now() + self.least - slept
        with self.emu.lock:
            waiting = self.emu.runs[polled].status in RUN.waiting
            wake = None if waiting else self.emu.next_wake(polled)
        tracked = self.runs[polled]
        if tracked.scenario.cancel_at is not None and not tracked.cancelled:
            due = tracked.created + tracked.scenario.cancel_at
            wake = due if wake is None else min(wake, due)
        clock.advance_to(max(target, wake or 0.0))

    def _other_party(self, tracked: Tracked, now: float) -> None:
        cancel_at = tracked.scenario.cancel_at
        if cancel_at is None or tracked.cancelled or now - tracked.created < cancel_at:
            return
        if tracked.run_id not in self.emu.runs:  # its thread was deleted
            return
        tracked.cancelled = True
        status = self.emu.run_object(tracked.run_id)["status"]
        if any(
            e.trigger == Trigger.CANCEL
            for e in RUN.triggers(status, Actor.CLIENT, self.options.strictness)
        ):
            path = f"/v1/threads/{tracked.thread_id}/runs/{tracked.run_id}/cancel"
            self.emu.handle("POST", path, "", _HEADERS, b"")
            self.external.add(self.emu.requests[-1].seq)

    def _hang(self, rec: Request) -> None:
        for tracked in self.runs.values():
            if tracked.run_id not in self.emu.runs:  # its thread was deleted
                continue
            status = self.emu.run_object(tracked.run_id)["status"]
            if status not in self.options.contract.done:
                continue
            if tracked.settled_status is None:
                tracked.settled_status = status
                continue
            if rec.run_id == tracked.run_id:
                tracked.after_settled += 1
            if tracked.after_settled >= self.options.settle_polls:
                self.hung_run = tracked
                raise self._stopping(
                    ClientHung(f"the client kept asking after the run became {status}")
                )

    def _stopping(self, stop: ClientInterrupted) -> ClientInterrupted:
        """Remember the stop raised into the client, so that a client which swallows it (an
        ``except BaseException``) meets it again at its next sleep, not hours of polls later."""
        self.stop = self.stop or stop
        return stop

    def on_sleep(self, _sleep: Sleep) -> None:
        """A client that sleeps after it was stopped swallowed the stop: raise it again."""
        if self.stop is not None:
            raise type(self.stop)(*self.stop.args)

    # -- what the client did, for the verdicts and the report ----------------------------------

    def client_requests(self) -> Iterable[Request]:
        """The requests the client made (not the other party's)."""
        return (r for r in self.emu.requests if r.seq not in self.external)

    def short(self, path: str) -> str:
        """A path with the ids the harness made or the client created shown by name."""
        text = path.removeprefix("/v1")
        for tracked in self.runs.values():
            text = text.replace(tracked.run_id, tracked.label)
        if self.assistant_id:
            text = text.replace(self.assistant_id, "{assistant}")
        return text.replace(self.thread_id, "{thread}") if self.thread_id else text

    def actions(self) -> tuple[Action, ...]:
        """Every request and sleep of the client, in order, with the run status each showed."""
        reqs = {r.seq: r for r in self.client_requests()}
        out: list[Action] = []
        events = sorted(
            [(r.seq, r) for r in reqs.values()] + [(s.seq, s) for s in self.emu.clock.sleeps],
            key=lambda x: x[0],
        )
        for _, ev in events:
            if isinstance(ev, Request):
                seen = seen_run(ev, ev.run_id if ev.run_id in self.runs else None)
                what = f"{ev.method} {self.short(ev.path)}"
                out.append(
                    Action(ev.at - self.start, what, ev.status, seen["status"] if seen else None)
                )
            else:
                out.append(Action(ev.at - self.start, "sleep", seconds=ev.seconds))
        return tuple(out)
