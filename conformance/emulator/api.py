"""The emulator's one core: a request in (method, path, query, headers, body), a reply out.

Every front-end (the in-process transports for the openai SDK, the HTTP server) calls
`Emulator.handle`. Each request first lets the virtual clock move by the configured latency,
may draw an injected fault (a refused or dropped request has no effect on state; a slow, cut or
lost reply's request takes effect), applies every scripted move that has come due, and
answers as the Assistants API (or the Responses API) does: JSON objects with
every key the SDK's models declare, documented 400s, OpenAI-style 404s, and server-sent events
for ``stream=True``.
The endpoints themselves live in `routes`, one module per family, found through its table.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson

from conformance.observations import Exchange, Item, Location, StreamEvent
from runmodel import Strictness

from ..lesson import LESSON_ASSISTANT
from .apierror import ApiError, refuse
from .clock import ClientInterrupted, Clock, Sleep, virtual_time
from .faults import Faults
from .response_hooks import ResponseHooks
from .response_script import ResponseScript
from .routes import ROUTES
from .routes.responses import STORE_KEY
from .routing import Call, RouteTable
from .script import Script, default_script, parse_script
from .state import Run, Store, ToolCaller
from .wire import BASE_URL, JSON, Reply, Request, StreamDropped, reply_headers

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


ScriptChooser = Callable[[Mapping[str, Any], Mapping[str, Any]], "Script | str"]
"""Picks a new run's script from the thread and the run objects (the run carries the tools)."""


class RequestBudgetExceeded(ClientInterrupted):
    """The emulator's request budget is spent: raised by the transport to stop a client that
    keeps asking after it should have stopped."""


class Emulator(ResponseHooks):
    """A fake Assistants API whose runs move as the model allows, on scripts a test controls,
    and a Responses API whose responses move as the model's ``response`` lifecycle allows.

    `strictness` is used to read scripts given as text; `script` is the script of every run
    (default: `default_script`); `latency` is the virtual seconds each request takes;
    `poll_after_ms` is sent as ``openai-poll-after-ms`` on run replies (None: not sent);
    `seed` makes ids and random faults reproducible. `max_requests` and `on_request` let a
    harness stop a client (see `RequestBudgetExceeded`). `response_script` is every response's
    script (see `response_hooks.ResponseHooks`). One lock guards all state.

    Hooks for harnesses: `before_request`, `on_reply` and `on_request` see each request; `runs`,
    `thread_of`, `responses` and `next_wake` read runs and responses without moving them;
    `schedule_cancel` plays a third party's cancel of a response on the virtual clock.
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
        response_script: ResponseScript | str | None = None,
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
        self.routes: RouteTable = ROUTES
        """The routes this emulator answers (default: every module's in `routes`); another
        family of endpoints is added with ``emu.routes = RouteTable(ROUTES, more)``."""
        self._shared: dict[str, Any] = {}  # state that other routes keep (`Call.state`)
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
        self._init_responses(self.store.new_id, response_script)
        self._shared[STORE_KEY] = self.response_store

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

    # -- reading runs without moving them (for harnesses) ---------------------------------------

    @property
    def runs(self) -> Mapping[str, Run]:
        """Every run by id, as stored (a read-only view: not advanced to now, unlike
        `run_object`); deleting a thread deletes its runs."""
        return MappingProxyType(self.store.runs)

    def thread_of(self, run_id: str) -> str:
        """The id of the thread run `run_id` belongs to."""
        return str(self.store.runs[run_id].obj["thread_id"])

    def next_wake(self, run_id: str) -> float | None:
        """When run (or response) `run_id` can next change by itself: a scripted move or a run's
        expiry (None once terminal, or a response's once nothing more is scheduled)."""
        with self.lock:
            resp = self.response_store.responses.get(run_id)
            if resp is not None:
                return self.response_store.next_wake(resp)
            return self.store.next_wake(self.store.runs[run_id])

    def _advanced(self, run: Run) -> dict[str, Any]:
        self.store.advance(run, self.clock.now())
        return _copy(run.obj)

    # -- front-end conveniences -------------------------------------------------------------------

    def virtual_time(self) -> contextlib.AbstractContextManager[list[Sleep]]:
        """Within the block, sleeps advance this emulator's clock (see `clock.virtual_time`)."""
        return virtual_time(self.clock)

    def client(self, *, max_retries: int = 2, strict: bool = True, **kwargs: Any) -> openai.OpenAI:
        """An ``openai.OpenAI`` client wired to this emulator in-process (no sockets)."""
        from .transport import sdk_client  # the SDK is imported only by those who use it

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
        self._play_due_cancels(clock.now())
        seq = clock.seq()
        fault = self.faults.pick(seq, method, route) if self.faults else None
        if fault is not None and fault.kind == "slow":
            clock.wait(fault.seconds)
        with self.lock:
            t = clock.now()
            rec = Request(seq, t, method, path, query, body)
            self.requests.append(rec)
            if fault is not None and fault.kind not in _ANSWERED:
                reply = self._fault(fault.kind, fault.seconds, rec)
                rec.fault = fault.kind
            else:
                reply = self._dispatch(method, route, query, headers, body, t, rec)
                if fault is not None and fault.kind == "lost_reply":
                    rec.fault, rec.events = fault.kind, None  # no reply reached the client
                    reply = _lost(reply)
                elif fault is not None and (fault.kind == "slow" or reply.stream is not None):
                    rec.fault = fault.kind
                    if fault.kind == "stream_drop" and reply.stream is not None:
                        reply.stream = _cut(reply.stream, fault.events)
            _log_reply(rec, reply)
        if self.on_reply is not None:
            reply = self.on_reply(rec, reply)
            _log_reply(rec, reply)  # the log shows what the client was answered
        if self.on_request is not None:
            self.on_request(rec)
        return reply

    def _fault(self, kind: str, seconds: float, rec: Request) -> Reply:
        headers = reply_headers(JSON, rec)
        if kind == "rate_limit":
            body = refuse("rate_limited", seconds=seconds).body
            return Reply(429, [*headers, ("retry-after", f"{seconds:g}")], orjson.dumps(body))
        if kind == "server_error":
            return Reply(500, headers, orjson.dumps(refuse("server_error").body))
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
        matched = self.routes.match(method, route)
        try:
            if matched is None:
                raise refuse("invalid_url", method=method, path=rec.path)
            found, ids = matched
            beta = None if headers is None else headers.get("openai-beta")
            if found.beta is not None and (beta is None or found.beta not in beta):
                raise refuse("beta_header")
            data: dict[str, Any] = {}
            if body and method == "POST":
                try:
                    data = orjson.loads(body)
                except orjson.JSONDecodeError:
                    raise refuse("invalid_body") from None
                if not isinstance(data, dict):
                    raise refuse("invalid_body")
            call = Call(
                ids,
                query,
                data,
                t,
                rec,
                self.store,
                self.clock,
                self.lock,
                self._choose,
                self._poll_header,
                self._shared,
            )
            return found.handler(call)
        except ApiError as exc:
            headers_out = [*reply_headers(JSON, rec), *exc.headers]
            return Reply(exc.status, headers_out, orjson.dumps(exc.body))


_ANSWERED = ("slow", "stream_drop", "lost_reply")  # faults whose request takes effect all the same


def _lost(reply: Reply) -> Reply:
    """The connection drops where `reply` was due (its request took effect): no reply at all,
    and a stream is closed unread (it waits on the clock for nothing)."""
    close = getattr(reply.stream, "close", None)
    if close is not None:
        close()
    return Reply(0, [], drop=True)


def _cut(stream: Iterator[bytes], events: int) -> Iterator[bytes]:
    """The first `events` chunks of `stream`, then the connection breaks off (no chunk more is
    taken from `stream`: a stream that waits on the clock for its next event is not woken)."""
    try:
        for _ in range(events):
            chunk = next(stream, None)
            if chunk is None:
                return  # the stream ended before the break was due
            yield chunk
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    raise StreamDropped(f"the emulator dropped the stream after {events} events")


def _log_reply(rec: Request, reply: Reply) -> None:
    """What the client got, in the request's log entry (nothing for a dropped connection)."""
    if not reply.drop:
        rec.status = reply.status
        rec.headers = reply.headers
        if reply.stream is None:
            rec.response = reply.body


def _copy(obj: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(orjson.dumps(obj))
    return result


def _maybe_json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body.decode("utf-8", "replace")
