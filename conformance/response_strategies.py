"""Hypothesis strategies for background responses, drawn from the model: each response's script
(the server's moves at the strictness, how many function calls a completion asks for, a response
the server never moves again), the chain of responses of a tool loop, where a stream drops, and
a third party's cancel. Shrinking gives the plainest lifecycle that still breaks a client.

A scenario also has a text form, the one a report prints and ``--scenario`` reads back::

    start+1, complete(2)+3 | start+1, complete+1; drop_after=3; cancel_at=2

(each response's script, `` | `` between the responses of a tool loop; ``stay`` ends a script
whose response the server never moves again).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from runmodel import RESPONSE, VALUES, Actor, ResponseTrigger, Strictness

from .emulator import ScriptError
from .emulator.response_script import STAY, ResponseMove, ResponseScript

__all__ = [
    "DELAYS",
    "MAX_CALLS",
    "MAX_ROUNDS",
    "ResponsePlan",
    "ResponseScenario",
    "parse_response_plan",
    "parse_response_scenario",
    "response_plans",
    "response_scenarios",
]

DELAYS: tuple[float, ...] = (1.0, 2.0, 5.0, 30.0, 120.0, 600.0)
"""The virtual seconds before a move, plainest first (long ones outlast a client's deadline)."""
MAX_CALLS = 3
"""The most function calls one completion asks for."""
MAX_ROUNDS = 3
"""The most function rounds a tool loop is played."""

_ERROR_CODES = VALUES["response.error.code"].values
_REASONS = VALUES["response.incomplete_details.reason"].values


@dataclass(frozen=True, slots=True)
class ResponsePlan:
    """A response's moves from ``queued``, in order (the emulator's `ResponseMove`s); a plan
    that ends before a terminal status leaves the response there for good (the server never
    picks it up again: the emulator script's ``stay``)."""

    moves: tuple[ResponseMove, ...] = ()

    def statuses(self, strictness: Strictness = Strictness.PERMISSIVE) -> tuple[str, ...]:
        """The statuses the response goes through, from the initial one."""
        path = [RESPONSE.initial]
        for move in self.moves:
            path.append(RESPONSE.fire(path[-1], move.trigger, strictness).dest)
        return tuple(path)

    @property
    def stays(self) -> bool:
        """Whether the response is left non-terminal for good."""
        return self.statuses()[-1] not in RESPONSE.terminal

    @property
    def calls(self) -> int:
        """The function calls the response's completion asks for (0 if it does not complete)."""
        done = RESPONSE.target(ResponseTrigger.COMPLETE)
        return sum(int(m.arg or 0) for m in self.moves if RESPONSE.target(m.trigger) == done)

    def __str__(self) -> str:
        words = [str(m) for m in self.moves]
        return ", ".join([*words, STAY] if self.stays else words)

    def script(self, strictness: Strictness) -> ResponseScript:
        """The emulator's script of this plan (one that stays ends with ``stay``)."""
        return ResponseScript(self.moves, strictness=strictness, stays=self.stays)


@dataclass(frozen=True, slots=True)
class ResponseScenario:
    """What the server does in one lifecycle: each created response's script in order (a tool
    loop's rounds are several), after how many events the first stream drops (None: never), and
    when, in seconds after its creation, a third party cancels the first response."""

    scripts: tuple[ResponsePlan, ...]
    drop_after: int | None = None
    cancel_at: float | None = None

    def script(self, index: int) -> ResponsePlan:
        """The plan of the `index`-th response created (past the drawn ones: it completes)."""
        return self.scripts[index] if index < len(self.scripts) else PLAIN

    def __str__(self) -> str:
        text = " | ".join(str(s) for s in self.scripts)
        if self.drop_after is not None:
            text += f"; drop_after={self.drop_after}"
        if self.cancel_at is not None:
            text += f"; cancel_at={self.cancel_at:g}"
        return text


PLAIN = ResponsePlan(
    (ResponseMove(ResponseTrigger.START, 1.0), ResponseMove(ResponseTrigger.COMPLETE, 1.0))
)


def _arg(trigger: str, text: str | None) -> int | str | None:
    if trigger == ResponseTrigger.COMPLETE:
        if text is None:
            return 0
        if not text.isdigit() or int(text) > MAX_CALLS * 10:
            raise ScriptError(f"{trigger}({text}): expected a number of function calls")
        return int(text)
    known = {ResponseTrigger.FAIL: _ERROR_CODES, ResponseTrigger.STOP_INCOMPLETE: _REASONS}
    values = known.get(trigger)
    if values is None:
        if text is not None:
            raise ScriptError(f"{trigger}({text}): {trigger} takes no argument")
        return None
    if text is None:
        return values[0]
    if text not in values:
        raise ScriptError(f"{trigger}({text}): expected one of {', '.join(values)}")
    return text


def _move(word: str) -> ResponseMove:
    head, plus, delay_text = word.partition("+")
    try:
        delay = float(delay_text) if plus else 0.0
    except ValueError:
        raise ScriptError(f"{word!r}: expected TRIGGER+SECONDS, e.g. start+1") from None
    if not delay >= 0:
        raise ScriptError(f"{word!r}: a delay is 0 seconds or more")
    trigger, paren, rest = head.partition("(")
    arg_text = rest.removesuffix(")") if paren else None
    if paren and not rest.endswith(")"):
        raise ScriptError(f"{word!r}: unclosed parenthesis")
    return ResponseMove(trigger.strip(), delay, _arg(trigger.strip(), arg_text))


def parse_response_plan(text: str, strictness: Strictness = Strictness.STRICT) -> ResponsePlan:
    """A response plan from its text form, checked against the model at `strictness`
    (`ScriptError` says which move is wrong and why)."""
    words = [w.strip() for w in text.split(",") if w.strip()]
    stays = bool(words) and words[-1] == STAY
    moves: list[ResponseMove] = []
    status = RESPONSE.initial
    for word in words[:-1] if stays else words:
        move = _move(word)
        legal = [e.trigger for e in RESPONSE.triggers(status, Actor.SERVER, strictness)]
        if move.trigger not in legal:
            allowed = ", ".join(legal) or "none"
            raise ScriptError(
                f"{word!r}: the server cannot {move.trigger} a {status} response at "
                f"{strictness.value} (it may: {allowed})"
            )
        status = RESPONSE.fire(status, move.trigger, strictness).dest
        moves.append(move)
    if stays and status in RESPONSE.terminal:
        raise ScriptError(f"{text!r}: {STAY} ends a script whose response is not terminal")
    if not stays and status not in RESPONSE.terminal:
        raise ScriptError(
            f"{text!r}: the response is left {status}; end with a terminal move, or with "
            f"{STAY!r} if the server never moves it again"
        )
    return ResponsePlan(tuple(moves))


def _number(text: str, what: str, kind: type[Any]) -> Any:
    try:
        value = kind(text)
    except ValueError:
        raise ScriptError(f"{what}: expected a number, not {text!r}") from None
    if value < 0:
        raise ScriptError(f"{what}: expected 0 or more, not {text!r}")
    return value


def parse_response_scenario(
    text: str, strictness: Strictness = Strictness.STRICT
) -> ResponseScenario:
    """A scenario from its text form (see the module's docstring)."""
    parts = [p.strip() for p in text.split(";")]
    drop_after: int | None = None
    cancel_at: float | None = None
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        if key.strip() == "drop_after" and eq:
            drop_after = _number(value.strip(), "drop_after", int)
        elif key.strip() == "cancel_at" and eq:
            cancel_at = _number(value.strip(), "cancel_at", float)
        else:
            raise ScriptError(f"{part!r}: expected drop_after=N or cancel_at=SECONDS")
    scripts = tuple(parse_response_plan(s, strictness) for s in parts[0].split("|"))
    return ResponseScenario(scripts, drop_after, cancel_at)


@st.composite
def response_plans(
    draw: st.DrawFn, strictness: Strictness, *, calls: bool = False, stay: bool = True
) -> ResponsePlan:
    """One response's script: legal server moves at `strictness`, each after a drawn delay;
    with `calls`, a completion asks for up to `MAX_CALLS` function calls; with `stay`, the
    server may leave the response non-terminal for good."""
    status = RESPONSE.initial
    moves: list[ResponseMove] = []
    while status not in RESPONSE.terminal:
        edges = RESPONSE.triggers(status, Actor.SERVER, strictness)
        if not edges or (stay and draw(st.booleans(), label="stays")):
            break
        edge = draw(st.sampled_from(edges), label="move")
        delay = draw(st.sampled_from(DELAYS), label="delay")
        arg: int | str | None = None
        if edge.trigger == ResponseTrigger.COMPLETE:
            # sampled, not integers(): as likely to ask for several calls as for none
            arg = draw(st.sampled_from(range(MAX_CALLS + 1)), label="calls") if calls else 0
        elif edge.trigger == ResponseTrigger.FAIL:
            arg = draw(st.sampled_from(_ERROR_CODES[:3]), label="code")
        elif edge.trigger == ResponseTrigger.STOP_INCOMPLETE:
            arg = draw(st.sampled_from(_REASONS), label="reason")
        moves.append(ResponseMove(edge.trigger, delay, arg))
        status = edge.dest
    return ResponsePlan(tuple(moves))


@st.composite
def response_scenarios(
    draw: st.DrawFn,
    strictness: Strictness,
    contract: str,
    *,
    cancel: bool = True,
    stay: bool = True,
) -> ResponseScenario:
    """A lifecycle for a contract (``poller``, ``stream``, ``tool-loop``): the first response's
    script and, for a tool loop, one per round while a completion asks for calls; for a stream,
    where it drops; with `cancel`, maybe a third party's cancel. A stream's response always moves
    on (a stream consumer has nothing to poll)."""
    loop = contract == "tool-loop"
    stays = stay and contract != "stream"
    scripts = [draw(response_plans(strictness, calls=loop, stay=stays), label="response")]
    while loop and scripts[-1].calls and len(scripts) < MAX_ROUNDS:
        scripts.append(draw(response_plans(strictness, calls=True, stay=stays), label="round"))
    if loop and scripts[-1].calls:  # the last round drawn answers with no more calls
        scripts.append(PLAIN)
    drop_after = None
    if contract == "stream":
        drop_after = draw(st.none() | st.integers(1, 8), label="drop_after")
    cancel_at = None
    if cancel:
        # a third party cancels in about one lifecycle in three
        cancel_at = draw(st.sampled_from((None,) * 12 + DELAYS), label="cancel_at")
    return ResponseScenario(tuple(scripts), drop_after, cancel_at)
