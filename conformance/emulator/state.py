"""The emulator's state: assistants, threads, messages, runs and run steps, and the run engine.

Runs move only by their script, lazily: whenever a request looks at a run, every scripted move
whose virtual time has come is applied first, each at its own time, and a run still active at
``expires_at`` expires then. Which fields are null or set in each status is read from the
model's field rules (`runmodel.RULES`), not decided here; every change of status goes through
`RUN.fire`, so the emulator cannot take an edge the model lacks at the script's strictness.
Callers hold the emulator's lock around every method.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from conformance.errors import error_body, format_call_ids
from runmodel import (
    EXPIRY_SECONDS,
    FIELDS,
    MESSAGE,
    RUN,
    STEP,
    VALUES,
    IllegalTransition,
    Lifecycle,
    RunmodelError,
    Trigger,
)

from . import _texts
from .clock import Clock
from .script import Move, Script

__all__ = ["EXPIRY_SECONDS", "ApiError", "Run", "Store", "Thread", "ToolCaller", "not_found"]

_Obj = dict[str, Any]

ToolCaller = Callable[[Mapping[str, Any], int], "list[tuple[str, str]]"]
"""Picks a round's calls: given the run object (which carries its tools) and how many calls,
returns ``(function name, arguments JSON)`` for each."""

_TERMINAL = RUN.terminal
_WAITING = RUN.waiting  # where the run waits for the client (requires_action)
_SUBMIT = Trigger.SUBMIT_TOOL_OUTPUTS
_CANCEL = Trigger.CANCEL
_EXPIRE = Trigger.EXPIRE
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_DONE = b"event: done\ndata: [DONE]\n\n"
_USAGE = {"prompt_tokens": 327, "completion_tokens": 340, "total_tokens": 667}  # the lesson's run
_LESSON_ARGS = json.dumps(
    {"items": [{"item_type": "书籍", "quantity": 1}, {"item_type": "电子产品", "quantity": 1}]},
    ensure_ascii=False,
    separators=(",", ":"),
)
_STEP_CODES = VALUES["run_step.last_error.code"].values
_MAX_TOKENS = "max_tokens"  # an incomplete message's reason when its run hit a token limit
if _MAX_TOKENS not in VALUES["message.incomplete_details.reason"].values:  # pragma: no cover
    raise RuntimeError(f"the model has no message incomplete reason {_MAX_TOKENS!r}")
_PLAIN_TEXT = "你好！我是一个人工智能助手，可以帮你完成许多任务，例如计算购物车的商品总价。"


class ApiError(RunmodelError):
    """An error reply: HTTP status and the OpenAI-style JSON body."""

    def __init__(
        self, status: int, body: Mapping[str, Any], headers: tuple[tuple[str, str], ...] = ()
    ):
        self.status = status
        self.body = body
        self.headers = headers
        super().__init__(f"{status}: {body['error']['message']}")


def _bad_request(kind: str, **fields: str) -> ApiError:
    """A documented 400 (evidence §6), worded by `conformance.errors`."""
    return ApiError(400, error_body(kind, **fields))


def not_found(object_id: str) -> ApiError:
    """404 for an unknown id, named as the API names it."""
    kind = _texts.KINDS.get(object_id.partition("_")[0], "object")
    return ApiError(404, _texts.error(_texts.NOT_FOUND.format(kind=kind, id=object_id)))


class _Fields:
    """For one lifecycle: the fields each status requires null, and those it requires set, as
    the model's table says (`runmodel.FIELDS`), so the emulator follows whatever the rules say.
    """

    def __init__(self, lifecycle: Lifecycle) -> None:
        table = FIELDS[lifecycle.name]
        self.null = {s: table[s].null for s in lifecycle.statuses}
        self.must = {s: table[s].set for s in lifecycle.statuses}

    def enter(self, obj: _Obj, status: str, t: float) -> None:
        """Put `obj` in `status` at time `t`: null what must be null, stamp missing timestamps."""
        for f in self.null[status]:
            obj[f] = None
        for f in self.must[status]:
            if obj.get(f) is None:
                if not f.endswith("_at"):
                    raise AssertionError(
                        f"emulator bug: {obj.get('object')} {f} unset entering {status}"
                    )
                obj[f] = int(t)
        obj["status"] = status


_RUN_FIELDS = _Fields(RUN)
_STEP_FIELDS = _Fields(STEP)
_MESSAGE_FIELDS = _Fields(MESSAGE)


def _sse(event: str, obj: Mapping[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(obj) + b"\n\n"


def _content_blocks(value: Any) -> list[_Obj]:
    """Message content as the API returns it, from what a create call sent."""
    if isinstance(value, str):
        return [{"type": "text", "text": {"value": value, "annotations": []}}]
    if not isinstance(value, list):
        raise ApiError(
            400, _texts.error(_texts.MISSING_PARAM.format(param="content"), param="content")
        )
    out: list[_Obj] = []
    for part in value:
        if isinstance(part, Mapping) and part.get("type") == "text":
            out.append(
                {"type": "text", "text": {"value": str(part.get("text", "")), "annotations": []}}
            )
        elif isinstance(part, Mapping):
            out.append(dict(part))
    return out


class Thread:
    """A thread and the ids of its messages and runs, in creation order."""

    __slots__ = ("active", "messages", "obj", "runs")

    def __init__(self, obj: _Obj) -> None:
        self.obj = obj
        self.messages: list[str] = []
        self.runs: list[str] = []
        self.active: Run | None = None


class Run:
    """One run: its API object, its script and where it stands in it, its steps and events."""

    __slots__ = (
        "calls",
        "due",
        "events",
        "next",
        "obj",
        "open_steps",
        "outputs",
        "pending",
        "script",
        "steps",
        "thread",
    )

    def __init__(self, obj: _Obj, thread: Thread, script: Script) -> None:
        self.obj = obj
        self.thread = thread
        self.script = script
        self.next = 0  # index of the next scripted move
        self.pending: Move | None = None  # the move that happens at `due`
        self.due: float | None = None
        self.events: list[tuple[str, bytes]] = []  # (event name, SSE chunk), for streams and logs
        self.steps: list[_Obj] = []
        self.open_steps: list[_Obj] = []
        self.calls: tuple[str, ...] = ()  # call ids of the current requires_action round
        self.outputs: list[str] = []  # tool outputs submitted so far

    @property
    def status(self) -> str:
        """The run's current status."""
        return str(self.obj["status"])


class Store:
    """All objects of one emulator, and the engine that moves runs along their scripts."""

    def __init__(self, clock: Clock, seed: int = 0) -> None:
        self.clock = clock
        self._rng = random.Random(seed)
        self.assistants: dict[str, _Obj] = {}
        self.threads: dict[str, Thread] = {}
        self.runs: dict[str, Run] = {}
        self.messages: dict[str, _Obj] = {}
        self.steps: dict[str, tuple[Run, _Obj]] = {}
        self.tool_calls: ToolCaller | None = None
        """If set, names each call of a requires_action round and gives its arguments."""

    def new_id(self, prefix: str) -> str:
        """A fresh id like the API's (prefix, underscore, 24 letters and digits), seeded."""
        return prefix + "_" + "".join(self._rng.choices(_ALPHABET, k=24))

    # -- lookups ----------------------------------------------------------------------------------

    def assistant(self, assistant_id: str) -> _Obj:
        """The assistant (404 if unknown)."""
        try:
            return self.assistants[assistant_id]
        except KeyError:
            raise not_found(assistant_id) from None

    def thread(self, thread_id: str) -> Thread:
        """The thread (404 if unknown)."""
        try:
            return self.threads[thread_id]
        except KeyError:
            raise not_found(thread_id) from None

    def run(self, thread_id: str, run_id: str, now: float) -> Run:
        """The run, advanced to `now` (404 unless it exists on that thread)."""
        run = self.runs.get(run_id)
        if run is None or run.obj["thread_id"] != thread_id:
            self.thread(thread_id)
            raise not_found(run_id)
        if run.obj["status"] not in _TERMINAL:
            self.advance(run, now)
        return run

    def settle_thread(self, thread: Thread, now: float) -> None:
        """Advance the thread's active run to `now` (the only run of a thread that can move)."""
        if thread.active is not None:
            self.advance(thread.active, now)

    # -- creation ---------------------------------------------------------------------------------

    def add_assistant(self, body: Mapping[str, Any], t: float) -> _Obj:
        """A new assistant from a create body (400 without a model)."""
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise ApiError(
                400, _texts.error(_texts.MISSING_PARAM.format(param="model"), param="model")
            )
        obj: _Obj = {
            "id": self.new_id("asst"),
            "object": "assistant",
            "created_at": int(t),
            "name": body.get("name"),
            "description": body.get("description"),
            "model": model,
            "instructions": body.get("instructions"),
            "tools": list(body.get("tools") or []),
            "tool_resources": body.get("tool_resources") or {},
            "metadata": body.get("metadata") or {},
            "temperature": body.get("temperature", 1.0),
            "top_p": body.get("top_p", 1.0),
            "response_format": body.get("response_format") or "auto",
        }
        self.assistants[obj["id"]] = obj
        return obj

    def add_thread(self, body: Mapping[str, Any], t: float) -> Thread:
        """A new thread, with the body's initial messages."""
        obj: _Obj = {
            "id": self.new_id("thread"),
            "object": "thread",
            "created_at": int(t),
            "metadata": body.get("metadata") or {},
            "tool_resources": body.get("tool_resources") or {},
        }
        thread = Thread(obj)
        self.threads[obj["id"]] = thread
        for message in body.get("messages") or ():
            self.add_message(thread, message, t)
        return thread

    def add_message(self, thread: Thread, body: Mapping[str, Any], t: float) -> _Obj:
        """A user's message (400 while a run on the thread is active)."""
        self.settle_thread(thread, t)
        if thread.active is not None:
            raise _bad_request(
                "message_while_active", thread_id=thread.obj["id"], run_id=thread.active.obj["id"]
            )
        role = body.get("role")
        if role not in ("user", "assistant"):
            raise ApiError(
                400, _texts.error(_texts.MISSING_PARAM.format(param="role"), param="role")
            )
        return self._message(
            thread,
            role,
            _content_blocks(body.get("content")),
            t,
            attachments=body.get("attachments") or [],
            metadata=body.get("metadata"),
        )

    def _message(
        self,
        thread: Thread,
        role: str,
        content: list[_Obj],
        t: float,
        *,
        run: Run | None = None,
        attachments: Any = (),
        metadata: Any = None,
    ) -> _Obj:
        obj: _Obj = {
            "id": self.new_id("msg"),
            "object": "thread.message",
            "created_at": int(t),
            "thread_id": thread.obj["id"],
            "role": role,
            "content": content,
            "assistant_id": None if run is None else run.obj["assistant_id"],
            "run_id": None if run is None else run.obj["id"],
            "attachments": list(attachments),
            "metadata": metadata or {},
            "status": MESSAGE.initial,
            "completed_at": None,
            "incomplete_at": None,
            "incomplete_details": None,
        }
        if run is None:  # a client's message is complete as soon as it exists
            _MESSAGE_FIELDS.enter(obj, MESSAGE.fire(MESSAGE.initial, "complete").dest, t)
        self.messages[obj["id"]] = obj
        thread.messages.append(obj["id"])
        return obj

    def add_run(
        self,
        thread: Thread,
        assistant: _Obj,
        body: Mapping[str, Any],
        choose: Callable[[_Obj, _Obj], Script],
        t: float,
    ) -> Run:
        """A new queued run following ``choose(thread, run)`` (400 while another run is active)."""
        self.settle_thread(thread, t)
        if thread.active is not None:
            raise _bad_request(
                "run_while_active", thread_id=thread.obj["id"], run_id=thread.active.obj["id"]
            )
        instructions = body.get("instructions")
        if instructions is None:
            instructions = assistant.get("instructions") or ""
        if body.get("additional_instructions"):
            instructions = f"{instructions}\n{body['additional_instructions']}".strip()
        tools = body.get("tools")
        created = int(t)
        obj: _Obj = {
            "id": self.new_id("run"),
            "object": "thread.run",
            "created_at": created,
            "assistant_id": assistant["id"],
            "thread_id": thread.obj["id"],
            "status": RUN.initial,
            "started_at": None,
            "expires_at": created + EXPIRY_SECONDS,
            "cancelled_at": None,
            "failed_at": None,
            "completed_at": None,
            "required_action": None,
            "last_error": None,
            "model": body.get("model") or assistant["model"],
            "instructions": instructions,
            "tools": list(assistant["tools"] if tools is None else tools),
            "metadata": body.get("metadata") or {},
            "incomplete_details": None,
            "usage": None,
            "temperature": body.get("temperature", assistant.get("temperature", 1.0)),
            "top_p": body.get("top_p", assistant.get("top_p", 1.0)),
            "max_prompt_tokens": body.get("max_prompt_tokens"),
            "max_completion_tokens": body.get("max_completion_tokens"),
            "truncation_strategy": body.get("truncation_strategy")
            or {"type": "auto", "last_messages": None},
            "response_format": body.get("response_format")
            or assistant.get("response_format")
            or "auto",
            "tool_choice": body.get("tool_choice") or "auto",
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
        }
        script = choose(thread.obj, obj)
        for message in body.get("additional_messages") or ():
            self.add_message(thread, message, t)
        run = Run(obj, thread, script)
        _RUN_FIELDS.enter(obj, RUN.initial, t)
        self.runs[obj["id"]] = run
        thread.runs.append(obj["id"])
        thread.active = run
        self._emit(run, "thread.run.created", obj)
        self._emit(run, f"thread.run.{RUN.initial}", obj)
        self._schedule(run, t)
        return run

    # -- the engine -------------------------------------------------------------------------------

    def advance(self, run: Run, now: float) -> None:
        """Apply every move due by `now`, each at its own time; expire at expires_at."""
        obj = run.obj
        while obj["status"] not in _TERMINAL:
            expires = obj["expires_at"]
            due = run.due
            if due is not None and due < expires and due <= now:
                self._take(run, due)
            elif now >= expires:
                self._expire(run, float(expires))
            else:
                return

    def next_wake(self, run: Run) -> float | None:
        """When the run can next change by itself (None once terminal or waiting for the client)."""
        if run.obj["status"] in _TERMINAL:
            return None
        expires = float(run.obj["expires_at"])
        return expires if run.due is None else min(run.due, expires)

    def _take(self, run: Run, t: float) -> None:
        move = run.pending
        if move is None:  # pragma: no cover - guarded by `due`
            raise AssertionError("no pending move")
        self._apply(run, move, t)
        self._schedule(run, t)

    def _expire(self, run: Run, t: float) -> None:
        try:
            RUN.fire(run.status, _EXPIRE, run.script.strictness)
        except IllegalTransition:
            # This status cannot expire at the script's strictness (queued or cancelling at the
            # strict level): the run takes its next scripted move now, and expires after it.
            if run.pending is None or run.pending.trigger == _EXPIRE:  # pragma: no cover
                raise AssertionError(
                    f"emulator bug: {run.status} run cannot expire or move"
                ) from None
            self._take(run, t)
            return
        self._apply(run, Move(_EXPIRE), t)
        self._schedule(run, t)

    def _schedule(self, run: Run, t: float) -> None:
        """Line up the run's next scripted move after time `t`."""
        if run.obj["status"] in _TERMINAL or run.obj["status"] in _WAITING:
            run.pending = run.due = None
            return
        moves = run.script.moves
        if run.next >= len(moves):  # pragma: no cover - scripts are checked to end terminal
            raise AssertionError("script exhausted before a terminal status")
        move = moves[run.next]
        run.next += 1
        run.pending = move
        run.due = math.inf if move.trigger == _EXPIRE else t + move.delay

    def _apply(self, run: Run, move: Move, t: float) -> None:
        dest = RUN.fire(run.status, move.trigger, run.script.strictness).dest
        obj = run.obj
        trigger = move.trigger
        if trigger == "require_action":
            self._tool_round(run, int(move.arg or 1), t)
        elif trigger in ("complete", "hit_token_limit"):
            if run.open_steps:  # a cancel that the server ignored (permissive only)
                self._close_steps(run, "cancelled", t)
            incomplete = trigger == "hit_token_limit"
            self._reply(run, t, incomplete=incomplete)
            if incomplete:
                obj["incomplete_details"] = {"reason": move.arg}
        elif trigger == "fail":
            code = str(move.arg)
            obj["last_error"] = {"code": code, "message": _texts.RUN_ERRORS[code]}
            self._close_steps(run, "failed", t, code=code)
        elif trigger == _EXPIRE:
            self._close_steps(run, "expired", t)
        else:  # start, finish_cancel: the status is all that changes
            self._close_steps(run, dest, t)
        self._enter(run, dest, t)

    def _enter(self, run: Run, dest: str, t: float) -> None:
        obj = run.obj
        if dest in _TERMINAL:
            obj["usage"] = (
                dict(_USAGE)
                if obj.get("started_at") is not None
                else {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            )
        _RUN_FIELDS.enter(obj, dest, t)
        if dest in _TERMINAL and run.thread.active is run:
            run.thread.active = None
        self._emit(run, f"thread.run.{dest}", obj)

    def _emit(self, run: Run, event: str, obj: Mapping[str, Any]) -> None:
        run.events.append((event, _sse(event, obj)))

    # -- steps and messages -----------------------------------------------------------------------

    def _step(self, run: Run, kind: str, details: _Obj, t: float) -> _Obj:
        step: _Obj = {
            "id": self.new_id("step"),
            "object": "thread.run.step",
            "created_at": int(t),
            "assistant_id": run.obj["assistant_id"],
            "thread_id": run.obj["thread_id"],
            "run_id": run.obj["id"],
            "type": kind,
            "status": STEP.initial,
            "step_details": details,
            "cancelled_at": None,
            "completed_at": None,
            "expired_at": None,
            "failed_at": None,
            "last_error": None,
            "usage": None,
            "metadata": {},
        }
        _STEP_FIELDS.enter(step, STEP.initial, t)
        run.steps.append(step)
        self.steps[step["id"]] = (run, step)
        self._emit(run, "thread.run.step.created", step)
        self._emit(run, f"thread.run.step.{STEP.initial}", step)
        return step

    def _finish_step(
        self, run: Run, step: _Obj, trigger: str, t: float, *, code: str | None = None
    ) -> None:
        dest = STEP.fire(step["status"], trigger).dest
        if code is not None:
            step["last_error"] = {
                "code": code if code in _STEP_CODES else _STEP_CODES[0],
                "message": _texts.RUN_ERRORS[code],
            }
        if dest == "completed":
            step["usage"] = dict(_USAGE)
        _STEP_FIELDS.enter(step, dest, t)
        self._emit(run, f"thread.run.step.{dest}", step)

    def _close_steps(self, run: Run, how: str, t: float, *, code: str | None = None) -> None:
        """Settle the run's open steps with it: cancelled, failed or expired."""
        trigger = {"cancelled": "cancel", "failed": "fail", "expired": _EXPIRE}.get(how)
        if trigger is None:
            return
        for step in run.open_steps:
            self._finish_step(run, step, trigger, t, code=code if trigger == "fail" else None)
        run.open_steps = []

    def _tool_round(self, run: Run, n: int, t: float) -> None:
        functions = [
            tool["function"]
            for tool in run.obj["tools"]
            if isinstance(tool, Mapping)
            and tool.get("type") == "function"
            and isinstance(tool.get("function"), Mapping)
        ]
        picked: list[tuple[str, str]] = []
        if self.tool_calls is not None:
            picked = self.tool_calls(run.obj, n)
        for i in range(len(picked), n):
            name = (
                str(functions[i % len(functions)].get("name", "function"))
                if functions
                else "function"
            )
            picked.append((name, _LESSON_ARGS if name == "calculate_order_total" else "{}"))
        calls: list[_Obj] = [
            {
                "id": self.new_id("call"),
                "type": "function",
                "function": {"name": n_, "arguments": a},
            }
            for n_, a in picked[:n]
        ]
        run.calls = tuple(c["id"] for c in calls)
        step = self._step(run, "tool_calls", {"type": "tool_calls", "tool_calls": []}, t)
        step["step_details"] = {
            "type": "tool_calls",
            "tool_calls": [{**c, "function": {**c["function"], "output": None}} for c in calls],
        }
        delta = {
            "id": step["id"],
            "object": "thread.run.step.delta",
            "delta": {
                "step_details": {
                    "type": "tool_calls",
                    "tool_calls": [
                        {"index": i, **c} for i, c in enumerate(step["step_details"]["tool_calls"])
                    ],
                }
            },
        }
        self._emit(run, "thread.run.step.delta", delta)
        run.open_steps.append(step)
        run.obj["required_action"] = {
            "type": "submit_tool_outputs",
            "submit_tool_outputs": {"tool_calls": calls},
        }

    def _reply(self, run: Run, t: float, *, incomplete: bool) -> None:
        thread = run.thread
        text = run.script.reply
        if text is None:
            text = f"根据计算结果：{run.outputs[-1]}" if run.outputs else _PLAIN_TEXT
        message = self._message(thread, "assistant", [], t, run=run)
        step = self._step(
            run,
            "message_creation",
            {"type": "message_creation", "message_creation": {"message_id": message["id"]}},
            t,
        )
        self._emit(run, "thread.message.created", message)
        self._emit(run, f"thread.message.{MESSAGE.initial}", message)
        block = {"type": "text", "text": {"value": text, "annotations": []}}
        self._emit(
            run,
            "thread.message.delta",
            {
                "id": message["id"],
                "object": "thread.message.delta",
                "delta": {"role": "assistant", "content": [{"index": 0, **block}]},
            },
        )
        message["content"] = [block]
        if incomplete:
            message["incomplete_details"] = {"reason": _MAX_TOKENS}
        dest = MESSAGE.fire(MESSAGE.initial, "stop_incomplete" if incomplete else "complete").dest
        _MESSAGE_FIELDS.enter(message, dest, t)
        self._emit(run, f"thread.message.{dest}", message)
        self._finish_step(run, step, "complete", t)

    # -- client actions ---------------------------------------------------------------------------

    def submit(self, run: Run, outputs: Any, t: float) -> None:
        """The client answers the current round (documented 400s for a wrong status or ids)."""
        self.advance(run, t)
        status = run.status
        if status not in _WAITING:
            raise _bad_request("submit_not_accepted", status=status)
        got = (
            [o.get("tool_call_id") for o in outputs if isinstance(o, Mapping)]
            if isinstance(outputs, list)
            else []
        )
        if sorted(map(str, got)) != sorted(run.calls):
            raise _bad_request(
                "tool_outputs_mismatch",
                expected=format_call_ids(run.calls),
                got=format_call_ids([str(g) for g in got]),
            )
        dest = RUN.fire(status, _SUBMIT, run.script.strictness).dest
        by_id = {o["tool_call_id"]: o.get("output") for o in outputs if isinstance(o, Mapping)}
        for step in run.open_steps:
            step["step_details"] = {
                "type": "tool_calls",
                "tool_calls": [
                    {**c, "function": {**c["function"], "output": str(by_id.get(c["id"]) or "")}}
                    for c in step["step_details"]["tool_calls"]
                ],
            }
            self._finish_step(run, step, "complete", t)
        run.open_steps = []
        run.outputs.extend(str(by_id[c] or "") for c in run.calls)
        run.calls = ()
        self._enter(run, dest, t)
        self._schedule(run, t)

    def cancel(self, run: Run, t: float) -> None:
        """The client asks to cancel (400 where the model has no cancel edge at this strictness)."""
        self.advance(run, t)
        try:
            dest = RUN.fire(run.status, _CANCEL, run.script.strictness).dest
        except IllegalTransition:
            raise _bad_request("cancel_not_allowed", status=run.status) from None
        run.calls = ()
        self._enter(run, dest, t)
        run.next = len(run.script.moves)
        move = run.script.on_cancel
        run.pending = move
        run.due = math.inf if move.trigger == _EXPIRE else t + move.delay

    # -- streams ----------------------------------------------------------------------------------

    def stream(
        self, run: Run, start: int, lock: Any, prefix: tuple[bytes, ...] = ()
    ) -> Iterator[tuple[str, bytes]]:
        """The run's events from index `start` as (name, SSE chunk), waiting on the clock for the
        next move, until a requires_action or terminal run event; then ``done``."""
        for chunk in prefix:
            yield "thread.created", chunk
        index = start
        ends = {f"thread.run.{s}" for s in RUN.settled}
        while True:
            with lock:
                fresh = run.events[index:]
                index += len(fresh)
                wake = None if fresh else self.next_wake(run)
            if not fresh and wake is None:  # settled before this stream began: nothing to wait for
                yield "done", _DONE
                return
            for name, chunk in fresh:
                yield name, chunk
                if name in ends:
                    yield "done", _DONE
                    return
            if wake is not None:
                self.clock.wait_until(wake)
                with lock:
                    self.advance(run, max(self.clock.now(), wake))
