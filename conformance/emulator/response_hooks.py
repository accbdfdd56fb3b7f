"""The emulator's hooks for responses: which script each new response follows, direct creation,
a third party's cancel on the virtual clock (`ResponseHooks.schedule_cancel`), and read-only
views for harnesses (`ResponseHooks.responses`, `response_object`).

A harness reads each response's id, background flag, status history (who moved it, by which
trigger, when), previous_response_id and stream events through `responses.Response`, never
through private state; `Emulator.next_wake` answers for response ids too.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

import orjson

from runmodel import Strictness

from .clock import Clock
from .response_script import ResponseScript, default_response_script, parse_response_script
from .responses import Response, ResponseStore
from .wire import JSON, Request, reply_headers

__all__ = ["ResponseHooks", "ResponseScriptChooser"]

ResponseScriptChooser = Callable[[Mapping[str, Any]], "ResponseScript | str"]
"""Picks a new response's script from the response object (background, tools,
previous_response_id, metadata...)."""


class ResponseHooks:
    """The response side of `api.Emulator` (a mixin: it needs ``strictness``, ``clock``,
    ``lock`` and ``requests``, calls `_init_responses` from its constructor and
    `_play_due_cancels` as each request arrives)."""

    strictness: Strictness
    clock: Clock
    lock: threading.RLock
    requests: list[Request]
    response_store: ResponseStore

    def _init_responses(
        self, new_id: Callable[[str], str], script: ResponseScript | str | None
    ) -> None:
        self.response_store = ResponseStore(self.clock, new_id, self._choose_response)
        self.response_script_chooser: ResponseScriptChooser | None = None
        """If set, picks the script of each new response not given one otherwise."""
        self._response_queue: collections.deque[ResponseScript] = collections.deque()
        self._response_explicit: ResponseScript | None = None
        self.response_script = script
        self.third_party: list[Request] = []
        """The requests of the scheduled cancels (`schedule_cancel`) as they were played, in
        `requests` too: a harness tells them from its client's by these."""
        self.response_store.on_cancel = self._log_cancel

    @property
    def response_script(self) -> ResponseScript | None:
        """The script every new response follows unless queued or chosen otherwise (None: the
        default, `response_script.default_response_script`)."""
        return self._response_script

    @response_script.setter
    def response_script(self, value: ResponseScript | str | None) -> None:
        self._response_script = None if value is None else self._as_response_script(value)

    def _as_response_script(self, value: ResponseScript | str) -> ResponseScript:
        if isinstance(value, ResponseScript):
            return value
        if isinstance(value, str):
            return parse_response_script(value, strictness=self.strictness)
        raise TypeError(f"a response script is a ResponseScript or text, not {type(value)}")

    def queue_response_scripts(self, *scripts: ResponseScript | str) -> None:
        """The next created responses take these scripts, in order, before any other choice."""
        parsed = [self._as_response_script(s) for s in scripts]
        with self.lock:
            self._response_queue.extend(parsed)

    def _choose_response(self, response: Mapping[str, Any]) -> ResponseScript:
        if self._response_explicit is not None:
            return self._response_explicit
        if self._response_queue:
            return self._response_queue.popleft()
        if self.response_script_chooser is not None:
            return self._as_response_script(self.response_script_chooser(response))
        if self._response_script is not None:
            return self._response_script
        chosen = default_response_script(response)
        if chosen.strictness is not self.strictness:  # defaults take the emulator's level
            chosen = replace(chosen, strictness=self.strictness)
        return chosen

    def start_response(
        self,
        script: ResponseScript | str | None = None,
        *,
        background: bool = True,
        body: Mapping[str, Any] | None = None,
    ) -> str:
        """Create a response directly (no request is logged) following `script`, from a create
        `body` (default: a user question to ``gpt-4.1``); return its id."""
        chosen = None if script is None else self._as_response_script(script)
        request = {"model": "gpt-4.1", "input": "What does my order cost?", **(body or {})}
        request["background"] = background
        with self.lock:
            self._response_explicit = chosen
            try:
                return self.response_store.create(request, self.clock.now()).id
            finally:
                self._response_explicit = None

    def schedule_cancel(self, response_id: str, at: float) -> None:
        """A third party cancels the response when the virtual clock passes `at`: played at its
        own time (a stream of the response wakes for it and just ends, fact
        ``response.stream.no_cancelled_event``) and answered as a client's cancel would be,
        logged in `requests` and `third_party`. Dropped if the response is deleted first."""
        with self.lock:
            if response_id not in self.response_store.responses:
                raise KeyError(f"no response {response_id!r}")
            self.response_store.cancels[response_id] = float(at)

    def _play_due_cancels(self, now: float) -> None:
        """Play every scheduled cancel due by `now` (before a request is logged, so the log
        stays in time order)."""
        store = self.response_store
        if not store.cancels:  # the common case, without the lock
            return
        with self.lock:
            for rid, at in sorted(store.cancels.items(), key=lambda x: x[1]):
                if at <= now:
                    store.advance(store.responses[rid], at)

    def _log_cancel(self, response_id: str, at: float, status: int, body: dict[str, Any]) -> None:
        rec = Request(self.clock.seq(), at, "POST", f"/v1/responses/{response_id}/cancel", "", b"")
        rec.status, rec.headers = status, reply_headers(JSON, rec)
        rec.response, rec.response_id = orjson.dumps(body), response_id
        self.requests.append(rec)
        self.third_party.append(rec)

    @property
    def responses(self) -> Mapping[str, Response]:
        """Every response by id, deleted ones included (`Response.deleted`), as stored: a
        read-only view, not advanced to now (unlike `response_object`)."""
        return MappingProxyType(self.response_store.responses)

    def response_object(self, response_id: str) -> dict[str, Any]:
        """A copy of the response as a retrieve would show it now."""
        with self.lock:
            resp = self.response_store.responses[response_id]
            self.response_store.advance(resp, self.clock.now())
            result: dict[str, Any] = orjson.loads(orjson.dumps(resp.obj))
            return result
