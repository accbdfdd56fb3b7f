"""The emulator's one core: a request in (method, path, query, headers, body), a reply out.

Every front-end (the in-process transports for the openai SDK, the HTTP server) calls
`Emulator.handle`. Each request first lets the virtual clock move by the configured latency,
may draw an injected fault (which then has no effect on state), applies every scripted move that
has come due, and answers as the Assistants API does: JSON objects with every key the SDK's
models declare, documented 400s, OpenAI-style 404s, and server-sent events for ``stream=True``.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from conformance.lesson import LESSON_ASSISTANT
from conformance.observations import Exchange, Item, Location, StreamEvent
from runmodel import Strictness

from . import _texts
from .clock import ClientInterrupted, Clock, Sleep, virtual_time
from .faults import Faults
from .script import Script, default_script, parse_script
from .state import ApiError, Run, Store, Thread, ToolCaller, not_found

if TYPE_CHECKING:
    import openai

__all__ = [
    "BASE_URL",
    "LESSON_ASSISTANT",
    "Emulator",
    "Reply",
    "Request",
    "RequestBudgetExceeded",
    "ScriptChooser",
]

BASE_URL = "http://emulator.runmodel.invalid/v1"
"""The base URL of in-process clients (``.invalid``: it can never reach a real host)."""

ScriptChooser = Callable[[Mapping[str, Any], Mapping[str, Any]], "Script | str"]
"""Picks a new run's script from the thread and the run objects (the run carries the tools)."""

_JSON = ("content-type", "application/json")
_SSE = ("content-type", "text/event-stream; charset=utf-8")


def _headers(content_type: tuple[str, str], rec: Request) -> list[tuple[str, str]]:
    """A reply's headers: its type, its request id, and the date by the emulator's clock (when
    the request arrived), so that a checker can tell the server's time from the recorder's."""
    return [
        content_type,
        ("x-request-id", f"req_{rec.seq:012d}"),
        ("date", formatdate(rec.at, usegmt=True)),
    ]


class RequestBudgetExceeded(ClientInterrupted):
    """The emulator's request budget is spent: raised by the transport to stop a client that
    keeps asking after it should have stopped."""


@dataclass(slots=True)
class Reply:
    """What the core answers: status, headers, and a body or a stream of SSE chunks.

    `drop` means the connection breaks with no reply at all (an injected fault).
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: Iterator[bytes] | None = None
    drop: bool = False


@dataclass(slots=True, eq=False)
class Request:
    """One request the emulator received, with its virtual time and what it answered."""

    seq: int
    at: float  # virtual time the request arrived (after latency)
    method: str
    path: str
    query: str
    body: bytes
    status: int | None = None  # None: the connection was dropped
    headers: list[tuple[str, str]] = field(default_factory=list)
    response: bytes | None = None  # the JSON body; None for streams and dropped connections
    events: list[tuple[str, bytes, float]] | None = None  # (event, SSE chunk, time) of a stream
    fault: str | None = None
    run_id: str | None = None  # the run the request concerned, where there is one

    def json(self) -> Any:
        """The reply's JSON body (None for streams and dropped connections)."""
        return None if self.response is None else orjson.loads(self.response)

    @property
    def streamed(self) -> bool:
        return self.events is not None

    def stream_events(self) -> list[tuple[str, Any]]:
        """The streamed events so far as (event, parsed data); ``done`` carries ``"[DONE]"``."""
        out: list[tuple[str, Any]] = []
        for name, chunk, _ in self.events or ():
            data = chunk.split(b"\ndata: ", 1)[1].rstrip(b"\n")
            out.append((name, "[DONE]" if data == b"[DONE]" else orjson.loads(data)))
        return out


class Emulator:
    """A fake Assistants API whose runs move as the model allows, on scripts a test controls.

    `strictness` is used to read scripts given as text; `script` is the script of every run
    (default: `default_script`); `latency` is the virtual seconds each request takes;
    `poll_after_ms` is sent as ``openai-poll-after-ms`` on run replies (None: not sent);
    `seed` makes ids and random faults reproducible. `max_requests` and `on_request` let a
    harness stop a client (see `RequestBudgetExceeded`). One lock guards all state.
    """

    def __init__(
        self,
        *,
        strictness: Strictness | str = Strictness.STRICT,
        script: Script | str | None = None,
        clock: Clock | None = None,
        latency: float = 0.05,
        poll_after_ms: int | None = 1000,
        seed: int = 0,
        max_requests: int | None = None,
        on_request: Callable[[Request], None] | None = None,
    ) -> None:
        self.strictness = Strictness(strictness)
        self.clock = clock if clock is not None else Clock()
        self.latency = latency
        self.poll_after_ms = poll_after_ms
        self.max_requests = max_requests
        self.on_request = on_request
        self.before_request: Callable[[str, str], None] | None = None
        """If set, called with (method, path) as each request arrives, before it is answered
        (a harness may move the clock there, or stop the client)."""
        self.lock = threading.RLock()
        self.store = Store(self.clock, seed)
        self.faults = Faults(seed)
        self.requests: list[Request] = []
        """Every request received, in order (see `Request`)."""
        self.script_chooser: ScriptChooser | None = None
        """If set, picks the script of each new run not given one otherwise."""
        self.on_reply: Callable[[Request, Reply], Reply] | None = None
        """If set, called with each request's record and reply before `on_request`; what it
        returns is answered (and logged) instead (a harness may serve an unknown status)."""
        self._script: Script | None = None
        self._queue: collections.deque[Script] = collections.deque()
        self._explicit: Script | None = None
        self.script = script

    @property
    def poll_after_ms(self) -> int | None:
        """The ``openai-poll-after-ms`` header sent on run replies (None: not sent)."""
        return self._poll_after_ms

    @poll_after_ms.setter
    def poll_after_ms(self, value: int | None) -> None:
        self._poll_after_ms = value
        self._poll_header = None if value is None else ("openai-poll-after-ms", str(value))

    # -- scripts ----------------------------------------------------------------------------------

    @property
    def script(self) -> Script | None:
        """The script every new run follows unless queued or chosen otherwise (None: default)."""
        return self._script

    @script.setter
    def script(self, value: Script | str | None) -> None:
        self._script = self._as_script(value) if value is not None else None

    def _as_script(self, value: Script | str) -> Script:
        if isinstance(value, Script):
            return value
        if isinstance(value, str):
            return parse_script(value, strictness=self.strictness)
        raise TypeError(f"a script is a Script or its text form, not {type(value).__name__}")

    def queue_scripts(self, *scripts: Script | str) -> None:
        """The next created runs take these scripts, in order, before any other choice."""
        parsed = [self._as_script(s) for s in scripts]
        with self.lock:
            self._queue.extend(parsed)

    def _choose(self, thread: Mapping[str, Any], run: Mapping[str, Any]) -> Script:
        if self._explicit is not None:
            return self._explicit
        if self._queue:
            return self._queue.popleft()
        if self.script_chooser is not None:
            return self._as_script(self.script_chooser(thread, run))
        if self._script is not None:
            return self._script
        chosen = default_script(thread, run)
        if chosen.strictness is not self.strictness:  # defaults take the emulator's level
            chosen = replace(chosen, strictness=self.strictness)
        return chosen

    # -- direct access for harnesses (no request is logged) --------------------------------------

    def start_run(
        self,
        script: Script | str | None = None,
        *,
        assistant: Mapping[str, Any] | None = None,
        message: str = "你好，我购买了一本书和一个电子产品，请帮我计算一下订单总价。",
    ) -> tuple[str, str]:
        """Create an assistant (`assistant` body, default the lesson's), a thread with one user
        message, and a run following `script`; return ``(thread_id, run_id)``."""
        chosen = None if script is None else self._as_script(script)
        with self.lock:
            t = self.clock.now()
            asst = self.store.add_assistant(assistant or LESSON_ASSISTANT, t)
            thread = self.store.add_thread({"messages": [{"role": "user", "content": message}]}, t)
            self._explicit = chosen
            try:
                run = self.store.add_run(thread, asst, {}, self._choose, t)
            finally:
                self._explicit = None
            return thread.obj["id"], run.obj["id"]

    def start_thread(
        self, *, assistant: Mapping[str, Any] | None = None, message: str | None = None
    ) -> tuple[str, str]:
        """Create an assistant (`assistant` body, default the lesson's) and a thread (with one
        user message if `message` is given), for a client that creates its own runs; return
        ``(thread_id, assistant_id)``."""
        with self.lock:
            t = self.clock.now()
            asst = self.store.add_assistant(assistant or LESSON_ASSISTANT, t)
            messages = [] if message is None else [{"role": "user", "content": message}]
            thread = self.store.add_thread({"messages": messages}, t)
            return thread.obj["id"], asst["id"]

    @property
    def tool_calls(self) -> ToolCaller | None:
        """If set, names each call of a requires_action round and gives its arguments (default:
        the run's function tools in turn, the lesson's arguments or ``{}``)."""
        return self.store.tool_calls

    @tool_calls.setter
    def tool_calls(self, value: ToolCaller | None) -> None:
        self.store.tool_calls = value

    def run_object(self, run_id: str) -> dict[str, Any]:
        """A copy of the run as a retrieve would show it now."""
        with self.lock:
            run = self.store.runs[run_id]
            return self._advanced(run)

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        """Copies of the run's steps, oldest first, as of now."""
        with self.lock:
            run = self.store.runs[run_id]
            self._advanced(run)
            return [orjson.loads(orjson.dumps(s)) for s in run.steps]

    def messages(self, thread_id: str) -> list[dict[str, Any]]:
        """Copies of the thread's messages, oldest first, as of now."""
        with self.lock:
            thread = self.store.threads[thread_id]
            self.store.settle_thread(thread, self.clock.now())
            return [orjson.loads(orjson.dumps(self.store.messages[m])) for m in thread.messages]

    @property
    def runs(self) -> Mapping[str, Run]:
        """Every run by id, as stored (a read-only view: not advanced to now, unlike
        `run_object`)."""
        return MappingProxyType(self.store.runs)

    def thread_of(self, run_id: str) -> str:
        """The id of the thread run `run_id` belongs to."""
        return str(self.store.runs[run_id].obj["thread_id"])

    def next_wake(self, run_id: str) -> float | None:
        """When run `run_id` can next change by itself: a scripted move or its expiry (None once
        terminal)."""
        with self.lock:
            return self.store.next_wake(self.store.runs[run_id])

    def _advanced(self, run: Run) -> dict[str, Any]:
        self.store.advance(run, self.clock.now())
        result: dict[str, Any] = orjson.loads(orjson.dumps(run.obj))
        return result

    # -- front-end conveniences -------------------------------------------------------------------

    def virtual_time(self) -> contextlib.AbstractContextManager[list[Sleep]]:
        """Within the block, sleeps advance this emulator's clock (see `clock.virtual_time`)."""
        return virtual_time(self.clock)

    def client(self, *, max_retries: int = 2, strict: bool = True, **kwargs: Any) -> openai.OpenAI:
        """An ``openai.OpenAI`` client wired to this emulator in-process (no sockets)."""
        from .transport import sdk_client

        return sdk_client(self, max_retries=max_retries, strict=strict, **kwargs)

    def async_client(
        self, *, max_retries: int = 2, strict: bool = True, **kwargs: Any
    ) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` client wired to this emulator in-process."""
        from .transport import async_sdk_client

        return async_sdk_client(self, max_retries=max_retries, strict=strict, **kwargs)

    def items(self) -> Iterator[Item]:
        """The requests so far as the checker's input: an `Exchange` per request, then its
        `StreamEvent`s; virtual time in ``wall`` and ``mono``."""
        seq = 0
        for rec in list(self.requests):
            seq += 1
            exchange_seq = seq
            yield Exchange(
                loc=Location("<emulator>", None, f"request {rec.seq}"),
                seq=exchange_seq,
                wall=rec.at,
                mono=rec.at,
                method=rec.method,
                path=rec.path if rec.path.startswith("/v1") else "/v1" + rec.path,
                query=dict(parse_qsl(rec.query)),
                request_body=_maybe_json(rec.body),
                status=rec.status,
                response_headers={k.lower(): v for k, v in rec.headers},
                response_body=rec.json(),
                streamed=rec.streamed,
            )
            times = [at for _, _, at in rec.events or ()]
            for i, (name, data) in enumerate(rec.stream_events()):
                seq += 1
                yield StreamEvent(
                    loc=Location("<emulator>", None, f"request {rec.seq} event {i + 1}"),
                    seq=seq,
                    exchange_seq=exchange_seq,
                    wall=times[i],
                    mono=times[i],
                    event=name,
                    data=data,
                )

    # -- the core ---------------------------------------------------------------------------------

    def handle(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        """Answer one request. `headers` must look up case-insensitively (or be lower-cased)."""
        clock = self.clock
        if self.max_requests is not None and len(self.requests) >= self.max_requests:
            raise RequestBudgetExceeded(
                f"the emulator's budget of {self.max_requests} requests is spent"
            )
        if self.before_request is not None:
            self.before_request(method, path)
        clock.check_budget()
        if self.latency:
            clock.advance(self.latency)
        route = path[3:] if path.startswith("/v1/") else path
        seq = clock.seq()
        fault = self.faults.pick(seq, method, route) if self.faults else None
        if fault is not None and fault.kind == "slow":
            clock.wait(fault.seconds)
        with self.lock:
            t = clock.now()
            rec = Request(seq, t, method, path, query, body)
            self.requests.append(rec)
            if fault is not None and fault.kind != "slow":
                reply = self._fault(fault.kind, fault.seconds, rec)
                rec.fault = fault.kind
            else:
                if fault is not None:
                    rec.fault = fault.kind
                reply = self._dispatch(method, route, query, headers, body, t, rec)
            if not reply.drop:
                rec.status = reply.status
                rec.headers = reply.headers
                if reply.stream is None:
                    rec.response = reply.body
        if self.on_reply is not None:
            reply = self.on_reply(rec, reply)
            if not reply.drop and reply.stream is None:
                rec.response = reply.body  # the log shows what the client was answered
        if self.on_request is not None:
            self.on_request(rec)
        return reply

    def _fault(self, kind: str, seconds: float, rec: Request) -> Reply:
        headers = _headers(_JSON, rec)
        if kind == "rate_limit":
            body = _texts.error(
                _texts.RATE_LIMITED.format(seconds=seconds), "requests", "rate_limit_exceeded"
            )
            return Reply(429, [*headers, ("retry-after", f"{seconds:g}")], orjson.dumps(body))
        if kind == "server_error":
            return Reply(
                500, headers, orjson.dumps(_texts.error(_texts.SERVER_ERROR, "server_error"))
            )
        return Reply(0, [], drop=True)

    def _dispatch(
        self,
        method: str,
        route: str,
        query: str,
        headers: Mapping[str, str] | None,
        body: bytes,
        t: float,
        rec: Request,
    ) -> Reply:
        segments = route.strip("/").split("/")
        handler = _EXACT.get((method, route.rstrip("/")))
        if handler is None:
            handler = _ROUTES.get(
                (method, tuple(s if i % 2 == 0 else "*" for i, s in enumerate(segments)))
            )
        try:
            if handler is None:
                raise ApiError(
                    404, _texts.error(_texts.INVALID_URL.format(method=method, path=rec.path))
                )
            beta = None if headers is None else headers.get("openai-beta")
            if beta is None or "assistants=v2" not in beta:
                raise ApiError(400, _texts.error(_texts.BETA_HEADER))
            data: dict[str, Any] = {}
            if body and method == "POST":
                try:
                    data = orjson.loads(body)
                except orjson.JSONDecodeError:
                    raise ApiError(400, _texts.error(_texts.INVALID_BODY)) from None
                if not isinstance(data, dict):
                    raise ApiError(400, _texts.error(_texts.INVALID_BODY))
            return handler(self, segments[1::2], query, data, t, rec)
        except ApiError as exc:
            headers_out = [*_headers(_JSON, rec), *exc.headers]
            return Reply(exc.status, headers_out, orjson.dumps(exc.body))

    def _ok(self, obj: Any, rec: Request, *, run: bool = False) -> Reply:
        headers = _headers(_JSON, rec)
        if run and self._poll_header is not None:
            headers.append(self._poll_header)
        return Reply(200, headers, orjson.dumps(obj))

    def _stream(self, run: Run, start: int, rec: Request, prefix: tuple[bytes, ...] = ()) -> Reply:
        headers = _headers(_SSE, rec)
        rec.events = []
        chunks = _recorded(self.store.stream(run, start, self.lock, prefix), rec.events, self.clock)
        return Reply(200, headers, stream=chunks)

    # -- endpoints (ids are the path's odd segments) ----------------------------------------------

    def _create_assistant(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        return self._ok(self.store.add_assistant(body, t), rec)

    def _list_assistants(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        return self._ok(_page(list(self.store.assistants.values()), query), rec)

    def _get_assistant(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        return self._ok(self.store.assistant(ids[0]), rec)

    def _update_assistant(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        obj = self.store.assistant(ids[0])
        obj.update(
            {k: v for k, v in body.items() if k in obj and k not in ("id", "object", "created_at")}
        )
        return self._ok(obj, rec)

    def _delete_assistant(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        self.store.assistant(ids[0])
        del self.store.assistants[ids[0]]
        return self._ok({"id": ids[0], "object": "assistant.deleted", "deleted": True}, rec)

    def _create_thread(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        return self._ok(self.store.add_thread(body, t).obj, rec)

    def _get_thread(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        return self._ok(self.store.thread(ids[0]).obj, rec)

    def _update_thread(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        obj = self.store.thread(ids[0]).obj
        obj.update({k: v for k, v in body.items() if k in ("metadata", "tool_resources")})
        return self._ok(obj, rec)

    def _delete_thread(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        store = self.store
        thread = store.thread(ids[0])
        for mid in thread.messages:
            store.messages.pop(mid, None)
        for rid in thread.runs:
            run = store.runs.pop(rid)
            for step in run.steps:
                store.steps.pop(step["id"], None)
        del store.threads[ids[0]]
        return self._ok({"id": ids[0], "object": "thread.deleted", "deleted": True}, rec)

    def _create_message(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        thread = self.store.thread(ids[0])
        return self._ok(self.store.add_message(thread, body, t), rec)

    def _list_messages(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        store = self.store
        thread = store.thread(ids[0])
        store.settle_thread(thread, t)
        messages = [store.messages[m] for m in thread.messages]
        run_id = _query(query).get("run_id")
        if run_id:
            messages = [m for m in messages if m["run_id"] == run_id]
        return self._ok(_page(messages, query), rec)

    def _message(self, ids: list[str], t: float) -> dict[str, Any]:
        thread = self.store.thread(ids[0])
        self.store.settle_thread(thread, t)
        message = self.store.messages.get(ids[1])
        if message is None or message["thread_id"] != ids[0]:
            raise not_found(ids[1])
        return message

    def _get_message(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        return self._ok(self._message(ids, t), rec)

    def _update_message(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        message = self._message(ids, t)
        if "metadata" in body:
            message["metadata"] = body["metadata"] or {}
        return self._ok(message, rec)

    def _delete_message(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        self._message(ids, t)
        del self.store.messages[ids[1]]
        self.store.threads[ids[0]].messages.remove(ids[1])
        return self._ok({"id": ids[1], "object": "thread.message.deleted", "deleted": True}, rec)

    def _new_run(
        self,
        thread: Thread,
        body: dict[str, Any],
        t: float,
        rec: Request,
        prefix: tuple[bytes, ...] = (),
    ) -> Reply:
        assistant = self.store.assistant(_required(body, "assistant_id"))
        run = self.store.add_run(thread, assistant, body, self._choose, t)
        rec.run_id = run.obj["id"]
        if body.get("stream"):
            return self._stream(run, 0, rec, prefix)
        return self._ok(run.obj, rec, run=True)

    def _create_run(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        return self._new_run(self.store.thread(ids[0]), body, t, rec)

    def _create_thread_and_run(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        self.store.assistant(_required(body, "assistant_id"))  # 404 before anything is created
        thread_body = body.get("thread") or {}
        thread = self.store.add_thread(thread_body if isinstance(thread_body, dict) else {}, t)
        prefix = (b"event: thread.created\ndata: " + orjson.dumps(thread.obj) + b"\n\n",)
        return self._new_run(thread, body, t, rec, prefix)

    def _list_runs(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        store = self.store
        thread = store.thread(ids[0])
        store.settle_thread(thread, t)
        return self._ok(_page([store.runs[r].obj for r in thread.runs], query), rec, run=True)

    def _get_run(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        run = self.store.run(ids[0], ids[1], t)
        rec.run_id = ids[1]
        return self._ok(run.obj, rec, run=True)

    def _update_run(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        run = self.store.run(ids[0], ids[1], t)
        rec.run_id = ids[1]
        if "metadata" in body:
            run.obj["metadata"] = body["metadata"] or {}
        return self._ok(run.obj, rec, run=True)

    def _cancel_run(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        run = self.store.run(ids[0], ids[1], t)
        rec.run_id = ids[1]
        self.store.cancel(run, t)
        return self._ok(run.obj, rec, run=True)

    def _submit(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        run = self.store.run(ids[0], ids[1], t)
        rec.run_id = ids[1]
        outputs = _required(body, "tool_outputs")
        start = len(run.events)
        self.store.submit(run, outputs, t)
        if body.get("stream"):
            return self._stream(run, start, rec)
        return self._ok(run.obj, rec, run=True)

    def _list_steps(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        run = self.store.run(ids[0], ids[1], t)
        rec.run_id = ids[1]
        return self._ok(_page(run.steps, query), rec)

    def _get_step(
        self, ids: list[str], query: str, body: dict[str, Any], t: float, rec: Request
    ) -> Reply:
        run = self.store.run(ids[0], ids[1], t)
        rec.run_id = ids[1]
        found = self.store.steps.get(ids[2])
        if found is None or found[0] is not run:
            raise not_found(ids[2])
        return self._ok(found[1], rec)


_Handler = Callable[[Emulator, list[str], str, dict[str, Any], float, Request], Reply]

_EXACT: dict[tuple[str, str], _Handler] = {
    ("POST", "/threads/runs"): Emulator._create_thread_and_run,
}

_ROUTES: dict[tuple[str, tuple[str, ...]], _Handler] = {
    ("POST", ("assistants",)): Emulator._create_assistant,
    ("GET", ("assistants",)): Emulator._list_assistants,
    ("GET", ("assistants", "*")): Emulator._get_assistant,
    ("POST", ("assistants", "*")): Emulator._update_assistant,
    ("DELETE", ("assistants", "*")): Emulator._delete_assistant,
    ("POST", ("threads",)): Emulator._create_thread,
    ("GET", ("threads", "*")): Emulator._get_thread,
    ("POST", ("threads", "*")): Emulator._update_thread,
    ("DELETE", ("threads", "*")): Emulator._delete_thread,
    ("POST", ("threads", "*", "messages")): Emulator._create_message,
    ("GET", ("threads", "*", "messages")): Emulator._list_messages,
    ("GET", ("threads", "*", "messages", "*")): Emulator._get_message,
    ("POST", ("threads", "*", "messages", "*")): Emulator._update_message,
    ("DELETE", ("threads", "*", "messages", "*")): Emulator._delete_message,
    ("POST", ("threads", "*", "runs")): Emulator._create_run,
    ("GET", ("threads", "*", "runs")): Emulator._list_runs,
    ("GET", ("threads", "*", "runs", "*")): Emulator._get_run,
    ("POST", ("threads", "*", "runs", "*")): Emulator._update_run,
    ("POST", ("threads", "*", "runs", "*", "cancel")): Emulator._cancel_run,
    ("POST", ("threads", "*", "runs", "*", "submit_tool_outputs")): Emulator._submit,
    ("GET", ("threads", "*", "runs", "*", "steps")): Emulator._list_steps,
    ("GET", ("threads", "*", "runs", "*", "steps", "*")): Emulator._get_step,
}


def _recorded(
    chunks: Iterator[tuple[str, bytes]], into: list[tuple[str, bytes, float]], clock: Clock
) -> Iterator[bytes]:
    for name, chunk in chunks:
        into.append((name, chunk, clock.now()))
        yield chunk


def _maybe_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")


def _query(query: str) -> dict[str, str]:
    return dict(parse_qsl(query)) if query else {}


def _required(body: Mapping[str, Any], name: str) -> Any:
    value = body.get(name)
    if value is None:
        raise ApiError(400, _texts.error(_texts.MISSING_PARAM.format(param=name), param=name))
    return value


def _page(objs: list[dict[str, Any]], query: str) -> dict[str, Any]:
    """A cursor page: `objs` oldest first; ``limit``, ``order``, ``after``, ``before``."""
    q = _query(query)
    try:
        limit = int(q.get("limit", 20))
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise ApiError(
            400,
            _texts.error(
                f"Invalid 'limit': integer between 1 and 100 expected, got {q.get('limit')!r}.",
                param="limit",
            ),
        )
    order = q.get("order", "desc")
    if order not in ("asc", "desc"):
        raise ApiError(
            400,
            _texts.error(
                f"Invalid value for 'order': expected 'asc' or 'desc', got {order!r}.",
                param="order",
            ),
        )
    items = objs if order == "asc" else objs[::-1]
    ids = [o["id"] for o in items]
    start, end = 0, len(items)
    after, before = q.get("after"), q.get("before")
    if after:
        start = ids.index(after) + 1 if after in ids else end
    if before:
        end = ids.index(before) if before in ids else start
    window = items[start:end]
    page = window[-limit:] if before and not after else window[:limit]
    return {
        "object": "list",
        "data": page,
        "first_id": page[0]["id"] if page else None,
        "last_id": page[-1]["id"] if page else None,
        "has_more": len(window) > limit,
    }
