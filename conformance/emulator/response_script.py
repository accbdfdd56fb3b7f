"""Response scripts: the server's decisions for one background (or foreground) response.

The same kind of script as a run's (`script`), for the model's ``response`` lifecycle: plain data
(`ResponseScript` of `ResponseMove`s), checked against `runmodel.RESPONSE` when built, so every
move is a server trigger the model allows from where the response stands at the script's
strictness. A response has no waiting status: ``complete(2)`` ends it with two ``function_call``
items, answered by a new response. What happens after a client's cancel is `on_cancel` (None:
nothing; the model's disputed ``cancelled → completed`` edge needs the permissive level).

The compact text form, for tests and ``runmodel serve --response-script``::

    start+1, complete(2)+3          # two function calls in the output
    start+1, fail(server_error)+2
    start+1, stop_incomplete(max_output_tokens)+4
    start+1, complete+30; on_cancel=complete+5     # permissive only
    start+1, stay                   # in_progress for good: the server never moves it again

``stay`` (`ResponseScript.stays`), valid only as the last move and only where the response is
not terminal, leaves the response where it stands for good: nothing is scheduled for it (its
next wake is None), a poll keeps answering it as it is, and a stream of it ends without a
terminal event once it has sent what there is (a virtual clock cannot wait for a move that never
comes, and one behaviour on both clocks keeps a recording the same; a client sees a stream that
ends early, as when a connection is closed idle, and a resume of it ends the same way). A
foreground create of such a response answers at once with it as it stands.

`scripts` gives a Hypothesis strategy of legal scripts (Hypothesis is imported only then).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runmodel import (
    RESPONSE,
    VALUES,
    Actor,
    IllegalTransition,
    ResponseTrigger,
    Strictness,
)

from .script import (
    ArgSpec,
    ScriptError,
    checked_arg,
    checked_delay,
    describe_moves,
    read_move,
)

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "ERROR_CODES",
    "INCOMPLETE_REASONS",
    "RESPONSE_MOVES",
    "STAY",
    "ResponseMove",
    "ResponseScript",
    "default_response_script",
    "parse_response_script",
    "scripts",
]

ERROR_CODES: tuple[str, ...] = VALUES["response.error.code"].values
"""``error.code`` of a failed response, from the model (``fail``'s argument)."""

INCOMPLETE_REASONS: tuple[str, ...] = VALUES["response.incomplete_details.reason"].values
"""``incomplete_details.reason`` of an incomplete response, from the model."""

RESPONSE_MOVES: tuple[str, ...] = tuple(
    dict.fromkeys(e.trigger for e in RESPONSE.all_edges if e.actor is not Actor.CLIENT)
)
"""The triggers a response script may use: the model's server triggers, in declaration order."""
STAY = "stay"
"""The text form's last word for a response the server never moves again (`ResponseScript.stays`).
"""

_ARGS: dict[str, ArgSpec] = {
    # trigger: (argument type, default, allowed values; empty = any count from 0)
    ResponseTrigger.COMPLETE: (int, 0, ()),
    ResponseTrigger.FAIL: (str, ERROR_CODES[0], ERROR_CODES),
    ResponseTrigger.STOP_INCOMPLETE: (str, INCOMPLETE_REASONS[0], INCOMPLETE_REASONS),
}


def _describe() -> str:
    return describe_moves(RESPONSE_MOVES, _ARGS, "N calls")


@dataclass(frozen=True, slots=True)
class ResponseMove:
    """One server decision on a response: a model trigger, its delay in virtual seconds, its
    argument (function calls for ``complete``, the code for ``fail``, the reason for
    ``stop_incomplete``; omitted, the default)."""

    trigger: str
    delay: float = 0.0
    arg: int | str | None = None

    def __post_init__(self) -> None:
        if self.trigger not in RESPONSE_MOVES:
            raise ScriptError(f"{self.trigger!r} is not a response move; moves: {_describe()}")
        object.__setattr__(self, "delay", checked_delay(self.trigger, self.delay))
        object.__setattr__(
            self, "arg", checked_arg(self.trigger, self.arg, _ARGS.get(self.trigger))
        )

    def __str__(self) -> str:
        text = self.trigger if self.arg in (None, 0) else f"{self.trigger}({self.arg})"
        return f"{text}+{self.delay:g}" if self.delay else text


@dataclass(frozen=True, slots=True)
class ResponseScript:
    """What the server does with one response; `ScriptError` if the model forbids it.

    `moves` lead from ``queued`` to a terminal status, or, with `stays`, to a status the
    response keeps for good (the server never moves it again); `on_cancel` is taken from
    ``cancelled`` after a client's cancel (None: the response stays cancelled); `reply` is the
    output text.
    """

    moves: tuple[ResponseMove, ...]
    on_cancel: ResponseMove | None = None
    strictness: Strictness = Strictness.STRICT
    reply: str | None = None
    stays: bool = False

    def __post_init__(self) -> None:
        moves = tuple(
            m if isinstance(m, ResponseMove) else _parse_move(str(m), 1) for m in self.moves
        )
        object.__setattr__(self, "moves", moves)
        if isinstance(self.on_cancel, str):
            object.__setattr__(self, "on_cancel", _parse_move(self.on_cancel, 1))
        object.__setattr__(self, "strictness", Strictness(self.strictness))
        self.check(self.strictness)

    def check(self, strictness: Strictness) -> None:
        """Raise `ScriptError` unless every move is a legal model move at `strictness`."""
        status = RESPONSE.initial
        for i, move in enumerate(self.moves, 1):
            try:
                status = RESPONSE.fire(status, move.trigger, strictness).dest
            except IllegalTransition as exc:
                raise ScriptError(f"move {i} ({move}): {exc}") from None
        if self.stays and status in RESPONSE.terminal:
            raise ScriptError(f"{STAY} follows a move to {status!r}, which is terminal already")
        if not self.stays and status not in RESPONSE.terminal:
            raise ScriptError(
                f"the script leaves the response {status!r} at its end; end it with a move to "
                f"a terminal status ({', '.join(sorted(RESPONSE.terminal))}), or with {STAY!r} "
                "if the server never moves it again"
            )
        if self.on_cancel is not None:
            cancelled = RESPONSE.target(ResponseTrigger.CANCEL)
            try:
                RESPONSE.fire(cancelled, self.on_cancel.trigger, strictness)
            except IllegalTransition as exc:
                raise ScriptError(f"on_cancel ({self.on_cancel}): {exc}") from None

    @property
    def calls(self) -> int:
        """How many function calls the script's ``complete`` puts in the output (0 if none)."""
        return sum(int(m.arg or 0) for m in self.moves if m.trigger == ResponseTrigger.COMPLETE)

    def statuses(self) -> tuple[str, ...]:
        """The response's statuses if the client never cancels."""
        out = [RESPONSE.initial]
        for move in self.moves:
            out.append(RESPONSE.fire(out[-1], move.trigger, self.strictness).dest)
        return tuple(out)

    def __str__(self) -> str:
        text = ", ".join([*(str(m) for m in self.moves), *([STAY] if self.stays else [])])
        return text if self.on_cancel is None else f"{text}; on_cancel={self.on_cancel}"


def _parse_move(text: str, column: int) -> ResponseMove:
    return read_move(text, column, ResponseMove, "complete(2)+3")


def parse_response_script(
    text: str, *, strictness: Strictness | str = Strictness.STRICT, reply: str | None = None
) -> ResponseScript:
    """Read the compact text form (see the module docstring); `ScriptError` names the column."""
    level = Strictness(strictness)
    head, *rest = text.split(";")
    moves: list[ResponseMove] = []
    column = 1
    pieces = head.split(",")
    stays = False
    for n, piece in enumerate(pieces, 1):
        if not piece.strip():
            raise ScriptError("empty move", column=column)
        if piece.strip() == STAY:
            if n < len(pieces):
                where = column + len(piece) - len(piece.lstrip())
                raise ScriptError(f"{STAY} is valid only as the last move", column=where)
            stays = True
        else:
            moves.append(_parse_move(piece, column))
        column += len(piece) + 1
    on_cancel: ResponseMove | None = None
    for part in rest:
        key, eq, value = part.partition("=")
        if key.strip() != "on_cancel" or not eq:
            raise ScriptError(f"expected on_cancel=MOVE, not {part.strip()!r}", column=column)
        on_cancel = _parse_move(value, column + len(key) + 1)
        column += len(part) + 1
    return ResponseScript(tuple(moves), on_cancel, level, reply, stays)


PLAIN_RESPONSE = ResponseScript((ResponseMove("start", 1.0), ResponseMove("complete", 5.0)))
FUNCTION_RESPONSE = ResponseScript((ResponseMove("start", 1.0), ResponseMove("complete", 3.0, 1)))


def default_response_script(response: Mapping[str, Any]) -> ResponseScript:
    """One function call when the response has a function tool and answers no earlier round
    (no ``previous_response_id``), else a plain reply: queued, started a second later, done
    a few seconds after that."""
    tools = response.get("tools") or ()
    has_function = any(isinstance(t, Mapping) and t.get("type") == "function" for t in tools)
    if has_function and not response.get("previous_response_id"):
        return FUNCTION_RESPONSE
    return PLAIN_RESPONSE


def scripts(
    strictness: Strictness | str = Strictness.STRICT, *, stay: bool = False
) -> SearchStrategy[ResponseScript]:
    """A Hypothesis strategy of legal response scripts at `strictness`, drawn from the model's
    edges (walks from ``queued`` to a terminal status, with delays and arguments; with `stay`,
    a walk may stop short of one and stay)."""
    from hypothesis import strategies as st

    level = Strictness(strictness)
    cancelled = RESPONSE.target(ResponseTrigger.CANCEL)

    def server(status: str) -> list[str]:
        return [e.trigger for e in RESPONSE.triggers(status, Actor.SERVER, level)]

    def arg_for(trigger: str) -> st.SearchStrategy[Any]:
        spec = _ARGS.get(trigger)
        if spec is None:
            return st.none()
        if spec[2]:
            return st.sampled_from(spec[2])
        return st.integers(0, 3)

    delays = st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0, 30.0])

    @st.composite
    def build(draw: st.DrawFn) -> ResponseScript:
        status = RESPONSE.initial
        moves: list[ResponseMove] = []
        stays = False
        while status not in RESPONSE.terminal:
            if stay and draw(st.booleans()):
                stays = True
                break
            trigger = draw(st.sampled_from(server(status)))
            moves.append(ResponseMove(trigger, draw(delays), draw(arg_for(trigger))))
            status = RESPONSE.fire(status, trigger, level).dest
        after = server(cancelled)
        on_cancel = None
        wanted: bool = draw(st.booleans())
        if after and wanted:
            trigger = draw(st.sampled_from(after))
            on_cancel = ResponseMove(trigger, draw(delays), draw(arg_for(trigger)))
        return ResponseScript(tuple(moves), on_cancel, level, stays=stays)

    return build()
