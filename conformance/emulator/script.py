"""Run scripts: the server's decisions for one run, in order, each after a virtual delay.

A script is plain data (`Script` of `Move`s), checked against the model when it is built: every
move must be a server or clock trigger that the model allows from where the run stands at the
script's strictness. Between a ``require_action`` move and the next one the client answers (the
model's ``submit_tool_outputs`` edge), so a round reads ``require_action(2)+3, start+1, …``. What
happens after a client's cancel is the script's `on_cancel` move.

The compact text form, for tests and ``runmodel serve --script``::

    start+1, require_action(2)+3, start+1, complete+1; on_cancel=finish_cancel+2

``name(arg)+seconds``: ``+seconds`` (optional ``s`` suffix) is the delay after the previous move,
after the client's submit, or after the run's creation; omitted means 0. ``expire`` takes no delay:
the run stalls and the clock expires it at ``expires_at``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from runmodel import (
    CANCELLING,
    RUN,
    VALUES,
    Actor,
    IllegalTransition,
    RunmodelError,
    Strictness,
    Trigger,
)

__all__ = [
    "FAIL_CODES",
    "FUNCTION_ROUND",
    "MOVE_NAMES",
    "MOVE_TEXT",
    "PLAIN_REPLY",
    "TOKEN_LIMITS",
    "ArgSpec",
    "Move",
    "Script",
    "ScriptError",
    "checked_arg",
    "checked_delay",
    "default_script",
    "describe_moves",
    "parse_script",
    "read_move",
]

FAIL_CODES: tuple[str, ...] = VALUES["run.last_error.code"].values
"""``last_error.code`` of a failed run, from the model (``fail``'s argument)."""

TOKEN_LIMITS: tuple[str, ...] = VALUES["run.incomplete_details.reason"].values
"""``incomplete_details.reason`` of an incomplete run, from the model (``hit_token_limit``'s)."""

MOVE_NAMES: tuple[str, ...] = tuple(
    dict.fromkeys(e.trigger for e in RUN.all_edges if e.actor is not Actor.CLIENT)
)
"""The triggers a script may use: the model's server and clock triggers, in declaration order."""

# The client's answer to a requires_action round, and what the run waits in meanwhile.
_SUBMIT = Trigger.SUBMIT_TOOL_OUTPUTS
_WAITING = RUN.waiting
_CANCELLING = CANCELLING
ArgSpec = tuple[type, Any, tuple[Any, ...]]
"""A move's argument: its type, its default, and the values allowed (for an int: empty, and the
default is the least number allowed)."""


_ARGS: dict[str, ArgSpec] = {
    # trigger: (argument type, default, allowed values; empty = any positive int)
    Trigger.REQUIRE_ACTION: (int, 1, ()),
    Trigger.FAIL: (str, FAIL_CODES[0], FAIL_CODES),
    Trigger.HIT_TOKEN_LIMIT: (str, TOKEN_LIMITS[0], TOKEN_LIMITS),
}
_STALLS = Trigger.EXPIRE  # the move that waits for expires_at instead of a delay


class ScriptError(RunmodelError, ValueError):
    """A script the model does not allow, or text that is not a script; says where and why."""

    def __init__(self, message: str, *, column: int | None = None) -> None:
        self.column = column
        super().__init__(message if column is None else f"column {column}: {message}")


def _describe_moves() -> str:
    return describe_moves(MOVE_NAMES, _ARGS, "N")


@dataclass(frozen=True, slots=True)
class Move:
    """One server decision: a model trigger, its delay in virtual seconds, and its argument.

    ``arg`` is the number of parallel tool calls for ``require_action``, the error code for
    ``fail``, the token limit for ``hit_token_limit``; omitted, it takes its default.
    """

    trigger: str
    delay: float = 0.0
    arg: int | str | None = None

    def __post_init__(self) -> None:
        if self.trigger not in MOVE_NAMES:
            raise ScriptError(f"{self.trigger!r} is not a move; moves: {_describe_moves()}")
        delay = checked_delay(self.trigger, self.delay)
        if self.trigger == _STALLS and delay:
            raise ScriptError(f"{_STALLS} happens at the run's expires_at; give it no delay")
        object.__setattr__(self, "delay", delay)
        object.__setattr__(
            self, "arg", checked_arg(self.trigger, self.arg, _ARGS.get(self.trigger))
        )

    def __str__(self) -> str:
        text = self.trigger if self.arg is None else f"{self.trigger}({self.arg})"
        return f"{text}+{self.delay:g}" if self.delay else text


def _moves(value: Iterable[Move | str]) -> tuple[Move, ...]:
    return tuple(m if isinstance(m, Move) else _parse_move(m, 1) for m in value)


@dataclass(frozen=True, slots=True)
class Script:
    """What the server does with one run; rejected with `ScriptError` if the model forbids it.

    `moves` run from creation to a terminal status, with the client's submit implied after each
    ``require_action``; `on_cancel` is taken from ``cancelling`` after a client's cancel (only
    ``finish_cancel`` is trusted; others need the permissive level). `reply` is the assistant's
    message text (None: a default).
    """

    moves: tuple[Move, ...]
    on_cancel: Move = field(default_factory=lambda: Move("finish_cancel", 1.0))
    strictness: Strictness = Strictness.STRICT
    reply: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "moves", _moves(self.moves))
        if isinstance(self.on_cancel, str):
            object.__setattr__(self, "on_cancel", _parse_move(self.on_cancel, 1))
        object.__setattr__(self, "strictness", Strictness(self.strictness))
        self.check(self.strictness)

    def check(self, strictness: Strictness) -> None:
        """Raise `ScriptError` unless every move is a legal model move at `strictness`."""
        status = RUN.initial
        for i, move in enumerate(self.moves, 1):
            try:
                status = RUN.fire(status, move.trigger, strictness).dest
            except IllegalTransition as exc:
                raise ScriptError(f"move {i} ({move}): {exc}") from None
            if status in _WAITING:
                status = RUN.fire(status, _SUBMIT, strictness).dest
        if status not in RUN.terminal:
            last = self.moves[-1].trigger if self.moves else None
            after = "after the client's submit " if last == Trigger.REQUIRE_ACTION else ""
            raise ScriptError(
                f"the script leaves the run {status!r} {after}at its end; "
                f"end it with a move to a terminal status ({', '.join(sorted(RUN.terminal))})"
            )
        try:
            dest = RUN.fire(_CANCELLING, self.on_cancel.trigger, strictness).dest
        except IllegalTransition as exc:
            raise ScriptError(f"on_cancel ({self.on_cancel}): {exc}") from None
        if dest not in RUN.terminal:  # pragma: no cover - every exit from cancelling is terminal
            raise ScriptError(f"on_cancel ({self.on_cancel}) does not end the run")

    @property
    def rounds(self) -> int:
        """How many requires_action rounds the script asks for."""
        return sum(1 for m in self.moves if m.trigger == Trigger.REQUIRE_ACTION)

    def statuses(self) -> tuple[str, ...]:
        """The run's statuses if the client answers every round and never cancels."""
        out = [RUN.initial]
        for move in self.moves:
            out.append(RUN.fire(out[-1], move.trigger, self.strictness).dest)
            if out[-1] in _WAITING:
                out.append(RUN.fire(out[-1], _SUBMIT, self.strictness).dest)
        return tuple(out)

    def __str__(self) -> str:
        text = ", ".join(str(m) for m in self.moves)
        if self.on_cancel != Move("finish_cancel", 1.0):
            text += f"; on_cancel={self.on_cancel}"
        return text


def checked_delay(trigger: str, delay: object) -> float:
    """A move's delay as a float; `ScriptError` unless it is a finite, non-negative number."""
    if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not math.isfinite(delay):
        raise ScriptError(f"{trigger}: delay must be a finite number, not {delay!r}")
    if delay < 0:
        raise ScriptError(f"{trigger}: delay must not be negative ({delay:g})")
    return float(delay)


def checked_arg(trigger: str, arg: object, spec: ArgSpec | None) -> Any:
    """A move's argument, its default filled in; `ScriptError` for one its trigger does not take."""
    if spec is None:
        if arg is not None:
            raise ScriptError(f"{trigger} takes no argument (got {arg!r})")
        return None
    kind, default, allowed = spec
    value = default if arg is None else arg
    if kind is int:
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < default:
            least = "a positive number" if default > 0 else "a number"
            raise ScriptError(f"{trigger} needs {least} of calls, not {value!r}")
    elif value not in allowed:
        raise ScriptError(f"{trigger}: {value!r} is not one of {', '.join(allowed)}")
    return value


MOVE_TEXT = re.compile(
    r"\s*(?P<name>[A-Za-z_]\w*)\s*(?:\(\s*(?P<arg>[^()]*?)\s*\))?"
    r"\s*(?:\+\s*(?P<delay>\d+(?:\.\d*)?|\.\d+)\s*s?)?\s*\Z"
)


def describe_moves(names: Iterable[str], args: Mapping[str, ArgSpec], count: str) -> str:
    """The moves a script may use, as an error message lists them (``fail(a|b)``, ``x(N)``)."""
    out = []
    for name in names:
        spec = args.get(name)
        if spec is None:
            out.append(name)
        elif spec[2]:
            out.append(f"{name}({'|'.join(spec[2])})")
        else:
            out.append(f"{name}({count})")
    return ", ".join(out)


_M = TypeVar("_M")


def read_move(
    text: str, column: int, make: Callable[[str, float, str | None], _M], example: str
) -> _M:
    """One move of a script's text form, built by `make` (name, delay, argument); `ScriptError`
    names the column of what cannot be read."""
    m = MOVE_TEXT.match(text)
    if m is None or not text.strip():
        raise ScriptError(
            f"cannot read {text.strip()!r} as a move: write name(arg)+seconds, e.g. {example}",
            column=column,
        )
    arg: str | None = m["arg"]
    try:
        return make(m["name"], float(m["delay"] or 0), arg if arg else None)
    except ScriptError as exc:
        raise ScriptError(str(exc), column=column + len(text) - len(text.lstrip())) from None


def _parse_move(text: str, column: int) -> Move:
    return read_move(text, column, Move, "require_action(2)+3")


def parse_script(
    text: str, *, strictness: Strictness | str = Strictness.STRICT, reply: str | None = None
) -> Script:
    """Read the compact text form (see the module docstring); `ScriptError` names the column."""
    level = Strictness(strictness)
    parts = text.split(";")
    moves: list[Move] = []
    on_cancel = Move("finish_cancel", 1.0)
    column = 1
    for index, part in enumerate(parts):
        if index == 0:
            col = column
            for piece in part.split(","):
                if not piece.strip():
                    raise ScriptError("empty move", column=col)
                moves.append(_parse_move(piece, col))
                col += len(piece) + 1
        else:
            key, eq, value = part.partition("=")
            if key.strip() != "on_cancel" or not eq:
                raise ScriptError(f"expected on_cancel=MOVE, not {part.strip()!r}", column=column)
            on_cancel = _parse_move(value, column + len(key) + 1)
        column += len(part) + 1
    if not moves:
        raise ScriptError("a script needs at least one move", column=1)
    return Script(tuple(moves), on_cancel, level, reply)


PLAIN_REPLY = Script((Move("start", 1.0), Move("complete", 23.0)))
"""The lesson's first run: queued, started a second later, completed 23 seconds after that."""

FUNCTION_ROUND = Script(
    (Move("start", 1.0), Move("require_action", 5.0, 1), Move("start", 1.0), Move("complete", 5.0))
)
"""The lesson's second run: one function round (``calculate_order_total``), then the answer."""


def default_script(thread: Mapping[str, Any], run: Mapping[str, Any]) -> Script:
    """`FUNCTION_ROUND` when the run has a function tool, else `PLAIN_REPLY`.

    Takes the thread and the new run (which carries the assistant's tools with any override from
    the create call).
    """
    tools = run.get("tools") or ()
    has_function = any(isinstance(t, Mapping) and t.get("type") == "function" for t in tools)
    return FUNCTION_ROUND if has_function else PLAIN_REPLY
