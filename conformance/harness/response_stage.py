"""The background-responses server the harness plays lifecycles on: ``/v1/responses`` (create,
background or not, streamed or not; retrieve, and resume a stream with ``starting_after``;
cancel; delete; input items) on the emulator's virtual clock and in-process transports.

Every move goes through `RESPONSE.fire` at the stage's strictness, each created response follows
its own `ResponseScript` (chosen by `chooser` in order of creation), the first stream created may
drop after `drop_after` events (the response goes on in the background; the stream just ends,
as a closed connection does), and a third party may cancel the first response at `cancel_at`.
Harnesses read responses back through `responses` and `response_object`; `requests` logs every
request with the events each stream sent.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from runmodel import FIELDS, RESPONSE, Actor, ResponseTrigger, Strictness

from ..emulator import Clock, Reply, Request, Sleep, virtual_time
from ..emulator.wire import JSON, SSE, reply_headers
from ..response_strategies import ResponseScript
from .record import json_body

if TYPE_CHECKING:
    import openai

__all__ = ["MODEL", "OTHER", "ResponseStage", "StagedResponse", "output_call_ids", "response_tools"]

MODEL = "gpt-4o"
OTHER = "other"
"""Who moved a response that a third party cancelled (in `StagedResponse.history`)."""
_EVENT_OF = {
    "queued": "response.queued",
    "in_progress": "response.in_progress",
    "completed": "response.completed",
    "failed": "response.failed",
    "incomplete": "response.incomplete",
}


def response_tools(tools: Any) -> list[dict[str, Any]]:
    """Function tools in the Responses API's shape (``{"type": "function", "name", ...}``), from
    either API's shape."""
    out = []
    for tool in tools or ():
        fn = tool.get("function", tool) if isinstance(tool, Mapping) else None
        if isinstance(fn, Mapping) and tool.get("type", "function") == "function" and "name" in fn:
            out.append(
                {
                    "type": "function",
                    "name": str(fn["name"]),
                    "description": fn.get("description"),
                    "parameters": fn.get("parameters") or {"type": "object", "properties": {}},
                    "strict": fn.get("strict"),
                }
            )
    return out


@dataclass(eq=False)
class StagedResponse:
    """A response as the stage keeps it: its script and what it went through."""

    id: str
    index: int
    background: bool
    created: float
    script: ResponseScript
    body: Mapping[str, Any]
    status: str = RESPONSE.initial
    next_move: int = 0
    moved_at: float = 0.0
    history: list[tuple[str, float, str]] = field(default_factory=list)  # status, time, who
    events: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # call id, name, arguments
    fields: dict[str, Any] = field(default_factory=dict)
    cancel_at: float | None = None  # a third party's cancel, in seconds after creation
    cancel_played: bool = False
    deleted: bool = False

    @property
    def previous_response_id(self) -> str | None:
        prev = self.body.get("previous_response_id")
        return prev if isinstance(prev, str) else None


class ResponseStage:
    """An in-process server of background responses whose every move is the model's."""

    def __init__(
        self,
        *,
        strictness: Strictness = Strictness.STRICT,
        chooser: Callable[[int], ResponseScript] | None = None,
        clock: Clock | None = None,
        latency: float = 0.05,
    ) -> None:
        self.strictness = strictness
        self.chooser = chooser
        self.clock = clock if clock is not None else Clock()
        self.latency = latency
        self.lock = threading.RLock()
        self.requests: list[Request] = []
        self.responses: dict[str, StagedResponse] = {}
        self.drop_after: int | None = None
        self.cancel_at: float | None = None
        self.on_request: Callable[[Request], None] | None = None
        self.before_request: Callable[[str, str, str], None] | None = None
        self._ids = count(1)
        self._streams = 0

    # -- what a harness reads --------------------------------------------------------------------

    def response_object(self, response_id: str) -> dict[str, Any]:
        """The response as a retrieve would answer it now."""
        with self.lock:
            resp = self.responses[response_id]
            self._advance(resp)
            return self._object(resp)

    def next_wake(self, response_id: str) -> float | None:
        """When the response next changes by itself (None: never again)."""
        resp = self.responses[response_id]
        if resp.status in RESPONSE.terminal:
            return None
        wakes = []
        if resp.next_move < len(resp.script.moves):
            wakes.append(resp.moved_at + resp.script.moves[resp.next_move].delay)
        if resp.cancel_at is not None and not resp.cancel_played:
            wakes.append(resp.created + resp.cancel_at)
        return min(wakes) if wakes else None

    def start_response(self, script: ResponseScript | None = None) -> str:
        """A background response created by the harness (not by the client): its id."""
        with self.lock:
            body = {"model": MODEL, "input": "What is my order total?", "background": True}
            return self._create(body, script).id

    # -- front-end conveniences ------------------------------------------------------------------

    def virtual_time(self) -> contextlib.AbstractContextManager[list[Sleep]]:
        return virtual_time(self.clock)

    def client(self, *, max_retries: int = 0, strict: bool = True) -> openai.OpenAI:
        from ..emulator.transport import sdk_client

        return sdk_client(self, max_retries=max_retries, strict=strict)

    def async_client(self, *, max_retries: int = 0, strict: bool = True) -> openai.AsyncOpenAI:
        from ..emulator.transport import async_sdk_client

        return async_sdk_client(self, max_retries=max_retries, strict=strict)

    # -- the core --------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        """Answer one request."""
        if self.before_request is not None:
            self.before_request(method, path, query)
        self.clock.check_budget()
        self.clock.advance(self.latency)
        with self.lock:
            rec = Request(self.clock.seq(), self.clock.now(), method, path, query, body)
            self.requests.append(rec)
            reply = self._dispatch(rec)
            rec.status = reply.status
            rec.headers = list(reply.headers)
            if reply.stream is None:
                rec.response = reply.body
            else:
                rec.events = []
                reply.stream = self._logged(rec, reply.stream)
        if self.on_request is not None:
            self.on_request(rec)
        return reply

    def _logged(self, rec: Request, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            name = chunk.split(b"\n", 1)[0].removeprefix(b"event: ").decode()
            assert rec.events is not None
            rec.events.append((name, chunk, self.clock.now()))
            yield chunk

    def _dispatch(self, rec: Request) -> Reply:
        parts = rec.path.removeprefix("/v1").strip("/").split("/")
        if parts[0] != "responses":
            return self._error(rec, 404, f"Unknown path {rec.path}", "invalid_request_error")
        if len(parts) == 1 and rec.method == "POST":
            return self._post(rec)
        resp = self.responses.get(parts[1]) if len(parts) > 1 else None
        if resp is None or resp.deleted:
            rec.run_id = parts[1] if len(parts) > 1 else None
            return self._error(rec, 404, f"Response with id '{rec.run_id}' not found.", None)
        rec.run_id = resp.id
        self._advance(resp)
        query = dict(parse_qsl(rec.query))
        if len(parts) == 2 and rec.method == "GET":
            if query.get("stream") == "true":
                after = int(query.get("starting_after", "-1"))
                return Reply(200, reply_headers(SSE, rec), stream=self._stream(resp, after, None))
            return self._json(rec, self._object(resp))
        if len(parts) == 2 and rec.method == "DELETE":
            resp.deleted = True
            return self._json(rec, {"id": resp.id, "object": "response.deleted", "deleted": True})
        if parts[2:] == ["cancel"] and rec.method == "POST":
            return self._cancel(rec, resp)
        if parts[2:] == ["input_items"] and rec.method == "GET":
            items = _input_items(resp.body.get("input"))
            ids = [i["id"] for i in items]
            page = {"object": "list", "data": items, "has_more": False}
            return self._json(rec, {**page, "first_id": ids[0], "last_id": ids[-1]})
        return self._error(rec, 404, f"Unknown path {rec.path}", "invalid_request_error")

    def _post(self, rec: Request) -> Reply:
        body = json_body(rec.body)
        if not isinstance(body, dict):
            return self._error(rec, 400, "The body is not a JSON object.", "invalid_request_error")
        refused = self._check_round(body)
        if refused is not None:
            return self._error(rec, 400, refused[1], "invalid_request_error", refused[0])
        resp = self._create(body, None)
        rec.run_id = resp.id
        streamed = body.get("stream") is True
        if not resp.background:  # a foreground create answers when the response has ended
            while (wake := self.next_wake(resp.id)) is not None:
                self.clock.advance_to(wake)
                self._advance(resp)
        if streamed:
            self._streams += 1
            drop = self.drop_after if self._streams == 1 and resp.background else None
            return Reply(200, reply_headers(SSE, rec), stream=self._stream(resp, -1, drop))
        return self._json(rec, self._object(resp))

    def _check_round(self, body: Mapping[str, Any]) -> tuple[str, str] | None:
        """A round's answer must name a known response and hold an output for each of its
        calls and for no other (param, message), as the API answers."""
        prev_id = body.get("previous_response_id")
        prev = self.responses.get(prev_id) if isinstance(prev_id, str) else None
        if prev_id is not None and prev is None:
            return "previous_response_id", f"Previous response with id '{prev_id}' not found."
        asked = {c[0] for c in prev.calls} if prev is not None else set()
        given = _output_call_ids(body.get("input"))
        for call_id in sorted(asked - given):
            return "input", f"No tool output found for function call {call_id}."
        for call_id in sorted(given - asked):
            return "input", f"No tool call found for function call output with call_id {call_id}."
        return None

    def _create(self, body: Mapping[str, Any], script: ResponseScript | None) -> StagedResponse:
        index = len(self.responses)
        if script is None:
            script = self.chooser(index) if self.chooser is not None else ResponseScript()
        now = self.clock.now()
        resp = StagedResponse(
            f"resp_{next(self._ids):06d}", index, body.get("background") is True, now, script, body
        )
        resp.moved_at = now
        resp.cancel_at = self.cancel_at if index == 0 else None
        resp.history.append((resp.status, now, Actor.CLIENT.value))
        self.responses[resp.id] = resp
        self._event(resp, "response.created")
        self._event(resp, "response.queued")
        return resp

    def _advance(self, resp: StagedResponse) -> None:
        """Play every move due by now: the script's and a third party's cancel."""
        now = self.clock.now()
        while (wake := self.next_wake(resp.id)) is not None and wake <= now:
            due_cancel = resp.cancel_at is not None and resp.created + resp.cancel_at == wake
            if due_cancel and not resp.cancel_played:
                resp.cancel_played = True
                if self._can_cancel(resp.status):
                    self._move(resp, ResponseTrigger.CANCEL, wake, OTHER)
                continue
            move = resp.script.moves[resp.next_move]
            resp.next_move += 1
            self._move(resp, move.trigger, wake, Actor.SERVER.value, move.arg)

    def _move(
        self, resp: StagedResponse, trigger: str, at: float, who: str, arg: Any = None
    ) -> None:
        resp.status = RESPONSE.fire(resp.status, trigger, self.strictness).dest
        resp.moved_at = at
        resp.history.append((resp.status, at, who))
        if resp.status == "completed":
            resp.fields["completed_at"] = int(at)
            tool = (response_tools(resp.body.get("tools")) or [{"name": "lookup"}])[0]
            for n in range(int(arg or 0)):
                resp.calls.append((f"call_{resp.id[5:]}_{n + 1}", str(tool["name"]), "{}"))
            for item in self._output(resp):
                self._event(resp, "response.output_item.added", item=item, output_index=0)
                self._event(resp, "response.output_item.done", item=item, output_index=0)
        elif resp.status == "failed":
            resp.fields["error"] = {"code": arg or "server_error", "message": "The model failed."}
        elif resp.status == "incomplete":
            resp.fields["incomplete_details"] = {"reason": arg or "max_output_tokens"}
        if resp.status in _EVENT_OF:  # a cancelled response's stream just ends
            self._event(resp, _EVENT_OF[resp.status])

    def _event(self, resp: StagedResponse, kind: str, **extra: Any) -> None:
        data: dict[str, Any] = {"type": kind, "sequence_number": len(resp.events), **extra}
        if not extra:
            data["response"] = self._object(resp)
        resp.events.append((self.clock.now(), kind, data))

    def _stream(self, resp: StagedResponse, after: int, drop: int | None) -> Iterator[bytes]:
        """A response's events after sequence number `after`, as they happen; a drop ends the
        stream after `drop` events, and a response the server never moves again ends it too."""
        sent = 0
        while True:
            with self.lock:
                self._advance(resp)
                pending = [e for e in resp.events if e[2]["sequence_number"] > after]
            for _, kind, data in pending:
                yield b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
                after, sent = data["sequence_number"], sent + 1
                if drop is not None and sent >= drop:
                    return
            wake = self.next_wake(resp.id)
            if wake is None:
                return
            self.clock.advance_to(wake)

    def _cancel(self, rec: Request, resp: StagedResponse) -> Reply:
        """Cancel: only a background response (else 400); one already terminal is answered
        unchanged (a second cancel, and a finished response, as the permissive model admits;
        strict serves the same, the one answer every server agrees is harmless)."""
        if not resp.background:
            message = "Only responses created with background=true can be cancelled."
            return self._error(rec, 400, message, "invalid_request_error")
        if self._can_cancel(resp.status):
            self._move(resp, ResponseTrigger.CANCEL, rec.at, Actor.CLIENT.value)
        return self._json(rec, self._object(resp))

    def _can_cancel(self, status: str) -> bool:
        moves = RESPONSE.triggers(status, Actor.CLIENT, self.strictness)
        return any(e.trigger == ResponseTrigger.CANCEL for e in moves)

    def _output(self, resp: StagedResponse) -> list[dict[str, Any]]:
        if resp.status != "completed":
            return []
        if resp.calls:
            return [
                {
                    "type": "function_call",
                    "id": f"fc_{call_id[5:]}",
                    "call_id": call_id,
                    "name": name,
                    "arguments": arguments,
                    "status": "completed",
                }
                for call_id, name, arguments in resp.calls
            ]
        text = {"type": "output_text", "text": "Your total is 42.", "annotations": []}
        return [
            {
                "type": "message",
                "id": f"msg_{resp.id[5:]}",
                "role": "assistant",
                "status": "completed",
                "content": [text],
            }
        ]

    def _object(self, resp: StagedResponse) -> dict[str, Any]:
        usage = {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": 7,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 19,
        }
        obj: dict[str, Any] = {
            "id": resp.id,
            "object": "response",
            "created_at": int(resp.created),
            "status": resp.status,
            "background": resp.background,
            "model": MODEL,
            "output": self._output(resp),
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": response_tools(resp.body.get("tools")),
            "previous_response_id": resp.previous_response_id,
            "instructions": None,
            "metadata": {},
            "temperature": 1.0,
            "top_p": 1.0,
            "completed_at": None,
            "error": None,
            "incomplete_details": None,
            "usage": usage,
            **resp.fields,
        }
        for name in FIELDS["response"][resp.status].null:  # the model's field rules decide
            obj[name] = None
        return obj

    def _json(self, rec: Request, obj: Any) -> Reply:
        return Reply(200, reply_headers(JSON, rec), orjson.dumps(obj))

    def _error(
        self, rec: Request, status: int, message: str, kind: str | None, param: str | None = None
    ) -> Reply:
        body = {"error": {"message": message, "type": kind, "param": param, "code": None}}
        return Reply(status, reply_headers(JSON, rec), orjson.dumps(body))


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [i for i in value if isinstance(i, Mapping)] if isinstance(value, list) else []


def _output_call_ids(value: Any) -> set[str]:
    """The call ids a create's input answers (its ``function_call_output`` items)."""
    return {str(i.get("call_id")) for i in _items(value) if i.get("type") == "function_call_output"}


def _input_items(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, str):
        content = [{"type": "input_text", "text": value}]
        return [{"type": "message", "id": "msg_in_1", "role": "user", "content": content}]
    return [
        {"id": f"item_{n}", "status": "completed", **dict(i)}
        for n, i in enumerate(_items(value), 1)
    ]


def output_call_ids(body: Any) -> set[str]:
    """The call ids a create's body answers (its ``function_call_output`` items)."""
    return _output_call_ids(body.get("input")) if isinstance(body, Mapping) else set()
