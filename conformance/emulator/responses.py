"""The response engine: Responses API objects that move only by their script, lazily, and only
along the model's edges (`runmodel.RESPONSE.fire`).

`ResponseStore` keeps every response of one emulator with its history (each status entered, by
which trigger, by whom, when) and its stream events (``sequence_number`` from 0, rising by one).
Whenever a request looks at a response, every scripted move whose virtual time has come is
applied first, each at its own time, and so is a third party's cancel scheduled for it
(`ResponseStore.cancels`, a harness's other client: a stream of the response wakes for it and
just ends). A function round is checked at create: the new response's
input must answer every ``function_call`` of its ``previous_response_id`` and nothing else.
Callers hold the emulator's lock around every method except the stream followers, which take it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from runmodel import RESPONSE, Actor, IllegalTransition, ResponseTrigger

from .apierror import ApiError
from .clock import Clock
from .fields import FieldSetter
from .response_objects import (
    USAGE,
    function_call_item,
    input_items,
    message_item,
    response_error,
    response_object,
    stream_item_events,
)
from .response_script import ResponseMove, ResponseScript

__all__ = ["RESPONSE_FIELDS", "Change", "Response", "ResponseChooser", "ResponseStore"]

_Obj = dict[str, Any]

RESPONSE_FIELDS = FieldSetter(RESPONSE)
"""The fields each response status nulls or sets, from the model's rules."""

ResponseChooser = Callable[[Mapping[str, Any]], ResponseScript]
"""Picks a new response's script from the response object (it carries background, tools and
previous_response_id)."""

_TERMINAL = RESPONSE.terminal
_CANCELLED = RESPONSE.target(ResponseTrigger.CANCEL)
_EVENT_PREFIX = "response."
_CREATED = "response.created"
_ENDS = frozenset(_EVENT_PREFIX + s for s in RESPONSE.terminal)
DEFAULT_REPLY = "Your order comes to 1,350 yuan: 1,000 for the book and 350 for the gadget."


@dataclass(frozen=True, slots=True)
class Change:
    """One status a response entered: by which trigger, moved by whom, at what virtual time."""

    status: str
    trigger: str
    actor: Actor
    at: float


class Response:
    """One response: its API object, its script and where it stands in it (`due`: the virtual
    time of the server's next scripted move, None when none is left), its input items, its
    history and its stream events (``(type, data)``, data with its sequence_number)."""

    __slots__ = (
        "deleted",
        "due",
        "events",
        "history",
        "inputs",
        "next",
        "obj",
        "pending",
        "script",
    )

    def __init__(self, obj: _Obj, script: ResponseScript, inputs: list[_Obj]) -> None:
        self.obj = obj
        self.script = script
        self.inputs = inputs
        self.next = 0  # index of the next scripted move
        self.pending: ResponseMove | None = None  # the move that happens at `due`
        self.due: float | None = None
        self.history: list[Change] = []
        self.events: list[tuple[str, _Obj]] = []
        self.deleted = False

    @property
    def id(self) -> str:
        """The response's id."""
        return str(self.obj["id"])

    @property
    def status(self) -> str:
        """The response's current status."""
        return str(self.obj["status"])

    @property
    def background(self) -> bool:
        """Whether it was created with ``background=true`` (only those can be cancelled)."""
        return bool(self.obj["background"])

    @property
    def previous_response_id(self) -> str | None:
        """The response whose function calls this one answers, if any."""
        value = self.obj.get("previous_response_id")
        return None if value is None else str(value)

    def calls(self) -> list[str]:
        """The call ids of the ``function_call`` items in its output."""
        return [i["call_id"] for i in self.obj["output"] if i.get("type") == "function_call"]


def _sse(event: str, data: Mapping[str, Any]) -> bytes:
    """One SSE chunk of the Responses API: the event's type and its data as JSON."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _copy(obj: Mapping[str, Any]) -> _Obj:
    result: _Obj = orjson.loads(orjson.dumps(obj))
    return result


class ResponseStore:
    """Every response of one emulator, by id, and the engine that moves them.

    `new_id` makes ids (the emulator's seeded generator); `choose` picks each new response's
    script. A deleted response stays here (`Response.deleted`) but answers 404.
    """

    def __init__(self, clock: Clock, new_id: Callable[[str], str], choose: ResponseChooser) -> None:
        self.clock = clock
        self.new_id = new_id
        self.choose = choose
        self.responses: dict[str, Response] = {}
        self.cancels: dict[str, float] = {}
        """A third party's cancel of each response id, by virtual time, until it is played."""
        self.on_cancel: Callable[[str, float, int, _Obj], None] | None = None
        """Told of each third party's cancel as it is played: the response id, its time, the
        HTTP status and the body it was answered (an emulator logs it as a request)."""

    # -- lookups --------------------------------------------------------------------------------

    def get(self, response_id: str, now: float) -> Response:
        """The response, advanced to `now` (404 if unknown or deleted)."""
        resp = self.responses.get(response_id)
        if resp is None or resp.deleted:
            raise response_error(404, f"Response with id '{response_id}' not found.")
        self.advance(resp, now)
        return resp

    # -- creation -------------------------------------------------------------------------------

    def create(self, body: Mapping[str, Any], t: float) -> Response:
        """A new response from a create body: 400 without a model, for an unknown
        ``previous_response_id``, or for a function round answered wrongly."""
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise response_error(400, "Missing required parameter: 'model'.", param="model")
        background = body.get("background")
        if background is not None and not isinstance(background, bool):
            raise response_error(
                400, "Invalid type for 'background': expected a boolean.", param="background"
            )
        inputs = input_items(body.get("input"), self.new_id)
        self._check_round(body.get("previous_response_id"), inputs, t)
        obj = response_object(self.new_id("resp"), body, t, RESPONSE.initial)
        obj["tools"] = [_tool(x) for x in obj["tools"]]
        resp = Response(obj, self.choose(obj), inputs)
        RESPONSE_FIELDS.enter(obj, RESPONSE.initial, t)
        self.responses[resp.id] = resp
        resp.history.append(Change(RESPONSE.initial, RESPONSE.created_by.trigger, Actor.CLIENT, t))
        if resp.background:  # a foreground stream opens when the response starts (`_enter`)
            self._emit(resp, _CREATED, {"response": _copy(obj)})
            self._emit(resp, _EVENT_PREFIX + RESPONSE.initial, {"response": _copy(obj)})
        self._schedule(resp, t)
        return resp

    def _check_round(self, previous: Any, inputs: list[_Obj], t: float) -> None:
        """A function round's answer holds an output for every call asked, and no other
        (facts ``response.round.all_outputs`` and ``.no_orphans``, with the messages observed).

        An unknown or deleted ``previous_response_id`` answers 400 ``previous_response_not_found``
        as OpenAI was seen answering it (maximhq/bifrost#2441, bigduu/Bamboo-agent#513). A
        parent still queued or in_progress has asked nothing yet, so any output is an orphan."""
        asked: list[str] = []
        if previous is not None:
            parent = self.responses.get(str(previous))
            if parent is None or parent.deleted:
                raise response_error(
                    400,
                    f"Previous response with id '{previous}' not found.",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            self.advance(parent, t)
            asked = parent.calls()
        asked += [i["call_id"] for i in inputs if i.get("type") == "function_call"]
        answered = [
            str(i.get("call_id")) for i in inputs if i.get("type") == "function_call_output"
        ]
        for call_id in asked:
            if call_id not in answered:
                raise response_error(
                    400, f"No tool output found for function call {call_id}.", param="input"
                )
        for call_id in answered:
            if call_id not in asked:
                raise response_error(
                    400,
                    f"No tool call found for function call output with call_id {call_id}.",
                    param="input",
                )

    # -- the engine -----------------------------------------------------------------------------

    def advance(self, resp: Response, now: float) -> None:
        """Apply every scripted move due by `now`, and a third party's cancel, each at its own
        time (a move due with the cancel comes first)."""
        while not resp.deleted:
            cancel_at = self.cancels.get(resp.id)
            due = resp.due
            if due is not None and due <= now and (cancel_at is None or due <= cancel_at):
                move = resp.pending
                resp.pending = resp.due = None
                if move is None:  # pragma: no cover - guarded by `due`
                    raise AssertionError("no pending move")
                self._apply(resp, move, due)
                self._schedule(resp, due)
            elif cancel_at is not None and cancel_at <= now:
                self._third_party(resp, cancel_at)
            else:
                return

    def next_wake(self, resp: Response) -> float | None:
        """When the response can next change: its next scripted move or a third party's cancel
        (None when neither is due: it has ended, and no move follows a cancel; it stays where
        it is for good; or it was deleted)."""
        if resp.deleted:
            return None
        times = [t for t in (resp.due, self.cancels.get(resp.id)) if t is not None]
        return min(times, default=None)

    def _third_party(self, resp: Response, t: float) -> None:
        """A third party's cancel at `t`, answered as a client's (`cancel`), then told."""
        del self.cancels[resp.id]
        try:
            self.cancel(resp, t)
            status, body = 200, _copy(resp.obj)
        except ApiError as exc:
            status, body = exc.status, dict(exc.body)
        if self.on_cancel is not None:
            self.on_cancel(resp.id, t, status, body)

    def _schedule(self, resp: Response, t: float) -> None:
        if resp.status in _TERMINAL:
            return  # a cancel lines up its on_cancel move itself
        moves = resp.script.moves
        if resp.next >= len(moves) and resp.script.stays:
            return  # the server never moves it again: nothing is due
        if resp.next >= len(moves):  # pragma: no cover - scripts are checked to end terminal
            raise AssertionError("script exhausted before a terminal status")
        resp.pending = moves[resp.next]
        resp.next += 1
        resp.due = t + resp.pending.delay

    def _apply(self, resp: Response, move: ResponseMove, t: float) -> None:
        edge = RESPONSE.fire(resp.status, move.trigger, resp.script.strictness)
        obj = resp.obj
        trigger = move.trigger
        if trigger == ResponseTrigger.COMPLETE:
            self._output(resp, self._items(resp, int(move.arg or 0)))
            obj["usage"] = dict(USAGE)
        elif trigger == ResponseTrigger.STOP_INCOMPLETE:
            text = self._reply(resp)
            partial = message_item(self.new_id("msg"), text[: len(text) // 2], "incomplete")
            self._output(resp, [partial])
            obj["incomplete_details"] = {"reason": move.arg}
            obj["usage"] = dict(USAGE)
        elif trigger == ResponseTrigger.FAIL:
            code = str(move.arg)
            message = f"The model failed to generate a response ({code})."
            obj["error"] = {"code": code, "message": message}
        self._enter(resp, edge.dest, trigger, edge.actor, t)

    def _enter(self, resp: Response, dest: str, trigger: str, actor: Actor, t: float) -> None:
        RESPONSE_FIELDS.enter(resp.obj, dest, t)
        resp.history.append(Change(dest, trigger, actor, t))
        if not resp.events:  # a foreground response is first seen as it starts, not queued
            self._emit(resp, _CREATED, {"response": _copy(resp.obj)})
        if dest != _CANCELLED:  # no response.cancelled stream event exists
            self._emit(resp, _EVENT_PREFIX + dest, {"response": _copy(resp.obj)})

    def _reply(self, resp: Response) -> str:
        return resp.script.reply or DEFAULT_REPLY

    def _items(self, resp: Response, calls: int) -> list[_Obj]:
        if not calls:
            return [message_item(self.new_id("msg"), self._reply(resp))]
        names = [x["name"] for x in resp.obj["tools"] if x.get("type") == "function"]
        names = names or ["emulated_function"]
        return [
            function_call_item(
                self.new_id("fc"),
                self.new_id("call"),
                names[i % len(names)],
                orjson.dumps({"call": i + 1}).decode(),
            )
            for i in range(calls)
        ]

    def _output(self, resp: Response, items: list[_Obj]) -> None:
        base = len(resp.obj["output"])
        for offset, item in enumerate(items):
            for event, payload in stream_item_events(base + offset, item):
                self._emit(resp, event, payload)
        resp.obj["output"] = [*resp.obj["output"], *items]

    def _emit(self, resp: Response, event: str, payload: _Obj) -> None:
        data = {"type": event, "sequence_number": len(resp.events), **payload}
        resp.events.append((event, data))

    # -- client actions -------------------------------------------------------------------------

    def cancel(self, resp: Response, t: float) -> None:
        """The client cancels: 400 for a foreground response (fact
        ``response.cancel.background_only``; the message sglang copies, RB-C5). An ended one is
        left unchanged and answered as it is, at every strictness: a cancelled one (fact
        ``response.cancel.idempotent``), and a completed, failed or incomplete one too (fact
        ``response.cancel.finished``, disputed: OpenAI documents only that a second cancel
        "simply returns the final Response object", and a cancel that races the end answers
        whatever status won, so a strict server answers a cancel after the end the same way;
        the 409 of another server is not OpenAI's)."""
        self.advance(resp, t)
        if not resp.background:
            raise response_error(
                400, "Responses can only be cancelled if they were created with background=true."
            )
        if resp.status in _TERMINAL:
            return
        try:
            edge = RESPONSE.fire(resp.status, ResponseTrigger.CANCEL, resp.script.strictness)
        except IllegalTransition:  # pragma: no cover - every active status can be cancelled
            raise response_error(400, f"Cannot cancel a response that is {resp.status}.") from None
        resp.obj["usage"] = None
        self._enter(resp, edge.dest, ResponseTrigger.CANCEL, edge.actor, t)
        resp.next = len(resp.script.moves)
        move = resp.script.on_cancel
        resp.pending = move
        resp.due = None if move is None else t + move.delay

    def delete(self, resp: Response) -> _Obj:
        """Delete the response (any status; a scheduled move or cancel is dropped); the reply
        body."""
        resp.deleted = True
        resp.pending = resp.due = None
        self.cancels.pop(resp.id, None)
        return {"id": resp.id, "object": "response", "deleted": True}

    # -- waiting and streams (these take the lock themselves) ------------------------------------

    def settle(self, resp: Response, lock: Any) -> None:
        """Let the clock run until the response has ended (a foreground create's wait), or
        until nothing more is due (a response that stays where it is for good)."""
        while True:
            with lock:
                self.advance(resp, self.clock.now())
                wake = None if resp.status in _TERMINAL else self.next_wake(resp)
            if wake is None:
                return
            self.clock.wait_until(wake)

    def follow(self, resp: Response, start: int, lock: Any) -> Iterator[tuple[str, bytes]]:
        """The response's events from index `start` (= sequence_number) as (type, SSE chunk),
        waiting on the clock for the next move, until its terminal event; a stream of a
        cancelled (or deleted) response just ends, and so does one of a response that stays
        where it is for good, once it has sent what there is (see `response_script`)."""
        index = start
        while True:
            with lock:
                fresh = resp.events[index:]
                index += len(fresh)
                ended = resp.status in _TERMINAL or resp.deleted
                wake = None if fresh or ended else self.next_wake(resp)
            for name, data in fresh:
                yield name, _sse(name, data)
                if name in _ENDS:
                    return
            if fresh:
                continue
            if wake is None:
                return
            self.clock.wait_until(wake)
            with lock:
                self.advance(resp, max(self.clock.now(), wake))


def _tool(tool: Any) -> Any:
    """A function tool as the response echoes it (the SDK requires name, parameters, strict)."""
    if not isinstance(tool, Mapping) or tool.get("type") != "function":
        return tool
    return {
        "type": "function",
        "name": tool.get("name", ""),
        "description": tool.get("description"),
        "parameters": tool.get("parameters") or {},
        "strict": tool.get("strict", True),
    }
