"""Hypothesis strategies drawn from the model: legal run scripts and whole test scenarios.

Every draw is a walk through `runmodel.RUN` at a strictness, so the strategies can produce only
what the model allows, and nothing the model allows is out of their reach. They shrink toward
short, plain lifecycles: the first edge the model lists from each status is the simplest one
(``start``, then ``complete``), small delays, one tool call, no cancellation.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from runmodel import RUN, VALUES, Actor, Strictness

from .emulator.script import Move, Script

__all__ = ["Scenario", "scenarios", "scripts"]

_WAITING = RUN.settled - RUN.terminal  # where the run waits for the client (requires_action)
_ANSWER = "submit_tool_outputs"  # the client's move out of a waiting status
_CANCEL = "cancel"
_CANCELLING = next(e.dest for e in RUN.all_edges if e.trigger == _CANCEL)
_EXPIRY_SECONDS = 600  # expires_at = created_at + 600 (rule run.expires_at.ten_minutes)
_ARGS = {
    "fail": VALUES["run.last_error.code"].values,
    "hit_token_limit": VALUES["run.incomplete_details.reason"].values,
}


def _server_moves(status: str, strictness: Strictness) -> list[str]:
    return [e.trigger for e in RUN.out(status, strictness) if e.actor is not Actor.CLIENT]


def _toward_round(status: str, strictness: Strictness) -> str | None:
    """The first server move of the shortest way from `status` to a requires_action round."""
    paths = [RUN.path(status, w, strictness) for w in sorted(_WAITING)]
    best = min(
        (p for p in paths if p and all(e.actor is not Actor.CLIENT for e in p)),
        key=len,
        default=None,
    )
    return None if best is None else best[0].trigger


@st.composite
def scripts(
    draw: st.DrawFn,
    strictness: Strictness = Strictness.STRICT,
    *,
    max_rounds: int = 3,
    max_calls: int = 4,
    max_delay: int = 30,
) -> Script:
    """A legal run script: server and clock moves from creation to a terminal status.

    Covers several requires_action rounds of 1..`max_calls` parallel calls, every failure code
    and incomplete reason, expiry while in progress (a stall) and while waiting for outputs (a
    first round asked for moments before ``expires_at``), and what the server does after a
    cancel (at permissive, also the untrusted exits from cancelling).
    """
    target = draw(st.integers(0, max_rounds))  # rounds first, so that many rounds are common
    status, moves, rounds, elapsed = RUN.initial, [], 0, 0.0
    while status not in RUN.terminal:
        options = _server_moves(status, strictness)
        toward = _toward_round(status, strictness) if rounds < target else None
        if toward is not None:
            options = [toward]
        else:
            options = [t for t in options if RUN.fire(status, t, strictness).dest not in _WAITING]
        trigger = draw(st.sampled_from(options))
        dest = RUN.fire(status, trigger, strictness).dest
        arg: int | str | None = None
        delay = 0.0 if trigger == "expire" else float(draw(st.integers(1, max_delay)))
        if dest in _WAITING:
            arg = draw(st.integers(1, max_calls))
            if rounds == 0 and draw(st.booleans()):  # outputs due just before the run expires
                delay = max(delay, _EXPIRY_SECONDS - elapsed - 0.5)
            rounds += 1
        elif trigger in _ARGS:
            arg = draw(st.sampled_from(_ARGS[trigger]))
        moves.append(Move(trigger, delay, arg))
        elapsed += delay
        status = RUN.fire(dest, _ANSWER, strictness).dest if dest in _WAITING else dest
    after_cancel = draw(st.sampled_from(_server_moves(_CANCELLING, strictness)))
    on_cancel = Move(
        after_cancel, 0.0 if after_cancel == "expire" else float(draw(st.integers(1, 5)))
    )
    return Script(tuple(moves), on_cancel, strictness)


@dataclass(frozen=True, slots=True)
class Scenario:
    """One lifecycle to play to a client: the server's script, and whether someone else cancels.

    `cancel_at` is the virtual second (after the run's creation) at which another party (a second
    process, a UI "stop" button) calls cancel; it has effect only where the model allows a cancel.
    """

    script: Script
    cancel_at: float | None = None

    def __str__(self) -> str:
        text = str(self.script)
        return text if self.cancel_at is None else f"{text}; cancel_at={self.cancel_at:g}"


def scenarios(
    strictness: Strictness = Strictness.STRICT,
    *,
    cancel: bool = True,
    max_rounds: int = 3,
    max_calls: int = 4,
) -> st.SearchStrategy[Scenario]:
    """Scripts, plus a cancel by another party at any virtual second of the run's life."""
    cancel_at = st.none() | st.integers(0, _EXPIRY_SECONDS).map(float) if cancel else st.none()
    return st.builds(
        Scenario,
        scripts(strictness, max_rounds=max_rounds, max_calls=max_calls),
        cancel_at,
    )
