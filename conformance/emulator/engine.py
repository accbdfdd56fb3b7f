"""The run engine: runs move only by their script, lazily, and only along the model's edges.

Whenever a request looks at a run, every scripted move whose virtual time has come is applied
first, each at its own time, and a run still active at ``expires_at`` expires then. Every change
of status goes through `RUN.fire`, so the emulator cannot take an edge the model lacks at the
script's strictness. Callers hold the emulator's lock around every method.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from conformance.errors import format_call_ids
from runmodel import RUN, IllegalTransition, Trigger

from .apierror import not_found, refuse
from .fields import EXPIRY_SECONDS, RUN_FIELDS
from .messages import assistant_reply, user_message
from .script import Move, Script
from .steps import RUN_ERRORS, USAGE, close_steps, record_outputs, tool_round
from .storage import Run, Storage, Thread
from .streams import emit, follow

__all__ = ["RunEngine"]

_Obj = dict[str, Any]

_TERMINAL = RUN.terminal
_WAITING = RUN.waiting  # where the run waits for the client (requires_action)
_EXPIRE = Trigger.EXPIRE


class RunEngine(Storage):
    """The emulator's storage with the engine that moves runs along their scripts."""

    # -- lookups that settle --------------------------------------------------------------------

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

    # -- creation -------------------------------------------------------------------------------

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
            raise refuse(
                "message_while_active", thread_id=thread.obj["id"], run_id=thread.active.obj["id"]
            )
        return user_message(self, thread, body, t)

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
            raise refuse(
                "run_while_active", thread_id=thread.obj["id"], run_id=thread.active.obj["id"]
            )
        obj = self._run_object(thread, assistant, body, t)
        script = choose(thread.obj, obj)
        for message in body.get("additional_messages") or ():
            self.add_message(thread, message, t)
        run = Run(obj, thread, script)
        RUN_FIELDS.enter(obj, RUN.initial, t)
        self.runs[obj["id"]] = run
        thread.runs.append(obj["id"])
        thread.active = run
        emit(run, "thread.run.created", obj)
        emit(run, f"thread.run.{RUN.initial}", obj)
        self._schedule(run, t)
        return run

    def _run_object(
        self, thread: Thread, assistant: _Obj, body: Mapping[str, Any], t: float
    ) -> _Obj:
        instructions = body.get("instructions")
        if instructions is None:
            instructions = assistant.get("instructions") or ""
        if body.get("additional_instructions"):
            instructions = f"{instructions}\n{body['additional_instructions']}".strip()
        tools = body.get("tools")
        created = int(t)
        return {
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

    # -- the engine -----------------------------------------------------------------------------

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
        if trigger == Trigger.REQUIRE_ACTION:
            tool_round(self, run, int(move.arg or 1), t)
        elif trigger in (Trigger.COMPLETE, Trigger.HIT_TOKEN_LIMIT):
            if run.open_steps:  # a cancel that the server ignored (permissive only)
                self._close_steps(run, "cancelled", t)
            incomplete = trigger == Trigger.HIT_TOKEN_LIMIT
            assistant_reply(self, run, t, incomplete=incomplete)
            if incomplete:
                obj["incomplete_details"] = {"reason": move.arg}
        elif trigger == Trigger.FAIL:
            code = str(move.arg)
            obj["last_error"] = {"code": code, "message": RUN_ERRORS[code]}
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
                dict(USAGE)
                if obj.get("started_at") is not None
                else {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
            )
        RUN_FIELDS.enter(obj, dest, t)
        if dest in _TERMINAL and run.thread.active is run:
            run.thread.active = None
        emit(run, f"thread.run.{dest}", obj)

    def _close_steps(self, run: Run, how: str, t: float, *, code: str | None = None) -> None:
        close_steps(run, how, t, code=code)

    # -- client actions -------------------------------------------------------------------------

    def submit(self, run: Run, outputs: Any, t: float) -> None:
        """The client answers the current round (documented 400s for a wrong status or ids)."""
        self.advance(run, t)
        status = run.status
        if status not in _WAITING:
            raise refuse("submit_not_accepted", status=status)
        got = (
            [o.get("tool_call_id") for o in outputs if isinstance(o, Mapping)]
            if isinstance(outputs, list)
            else []
        )
        if sorted(map(str, got)) != sorted(run.calls):
            raise refuse(
                "tool_outputs_mismatch",
                expected=format_call_ids(run.calls),
                got=format_call_ids([str(g) for g in got]),
            )
        dest = RUN.fire(status, Trigger.SUBMIT_TOOL_OUTPUTS, run.script.strictness).dest
        record_outputs(run, outputs, t)
        self._enter(run, dest, t)
        self._schedule(run, t)

    def cancel(self, run: Run, t: float) -> None:
        """The client asks to cancel (400 where the model has no cancel edge at this strictness)."""
        self.advance(run, t)
        try:
            dest = RUN.fire(run.status, Trigger.CANCEL, run.script.strictness).dest
        except IllegalTransition:
            raise refuse("cancel_not_allowed", status=run.status) from None
        run.calls = ()
        self._enter(run, dest, t)
        run.next = len(run.script.moves)
        move = run.script.on_cancel
        run.pending = move
        run.due = math.inf if move.trigger == _EXPIRE else t + move.delay

    # -- streams --------------------------------------------------------------------------------

    def stream(
        self, run: Run, start: int, lock: Any, prefix: tuple[bytes, ...] = ()
    ) -> Iterator[tuple[str, bytes]]:
        """The run's events from index `start` as (name, SSE chunk), waiting on the clock for the
        next move, until a requires_action or terminal run event; then ``done``."""
        return follow(run, start, lock, self.clock, self.next_wake, self.advance, prefix)
