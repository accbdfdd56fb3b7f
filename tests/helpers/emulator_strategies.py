"""Hypothesis strategies for the emulator's own tests: legal scripts, walked off the model."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from conformance.emulator import Move, Script
from conformance.emulator.script import FAIL_CODES, TOKEN_LIMITS
from runmodel import RUN, Actor, Edge, Strictness

_SERVER_SIDE = (Actor.SERVER, Actor.CLOCK)
_WAITING = RUN.waiting
_CANCELLING = next(e.dest for e in RUN.all_edges if e.trigger == "cancel")

delays = st.sampled_from([0.0, 0.5, 1.0, 3.0, 10.0, 45.0, 700.0])
"""Mostly short; 700 s is past expires_at, so the clock gets its say."""


def _edges(status: str, level: Strictness) -> list[Edge]:
    return [e for actor in _SERVER_SIDE for e in RUN.triggers(status, actor, level)]


def _move(draw: Any, edge: Edge) -> Move:
    arg: int | str | None = None
    if edge.trigger == "require_action":
        arg = draw(st.integers(1, 3))
    elif edge.trigger == "fail":
        arg = draw(st.sampled_from(FAIL_CODES))
    elif edge.trigger == "hit_token_limit":
        arg = draw(st.sampled_from(TOKEN_LIMITS))
    delay = 0.0 if edge.trigger == "expire" else draw(delays)
    return Move(edge.trigger, delay, arg)


@st.composite
def scripts(draw: Any, strictness: Strictness | None = None, max_moves: int = 8) -> Script:
    """A script the model allows at `strictness` (drawn when None), ending terminal."""
    level = draw(st.sampled_from(list(Strictness))) if strictness is None else strictness
    status = RUN.initial
    moves: list[Move] = []
    while status not in RUN.terminal:
        edges = _edges(status, level)
        if len(moves) >= max_moves:  # head for the end
            edges = [e for e in edges if e.dest in RUN.terminal] or edges
        edge = draw(st.sampled_from(edges))
        moves.append(_move(draw, edge))
        status = edge.dest
        if status in _WAITING:
            status = RUN.fire(status, "submit_tool_outputs", level).dest
    on_cancel = _move(draw, draw(st.sampled_from(_edges(_CANCELLING, level))))
    return Script(tuple(moves), on_cancel, level)
