"""The emulator's objects: assistants, threads, messages, runs and run steps, by id.

Plain storage with the API's lookups (a 404 for an unknown id) and seeded ids; how runs move is
`engine.RunEngine`'s business, built on top of this.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

from .apierror import not_found, refuse
from .clock import Clock
from .script import Move, Script

__all__ = ["Run", "Storage", "Thread", "ToolCaller"]

_Obj = dict[str, Any]

ToolCaller = Callable[[Mapping[str, Any], int], "list[tuple[str, str]]"]
"""Picks a round's calls: given the run object (which carries its tools) and how many calls,
returns ``(function name, arguments JSON)`` for each."""

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


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


class Storage:
    """All objects of one emulator, by id, with seeded ids and the API's 404s."""

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

    def add_assistant(self, body: Mapping[str, Any], t: float) -> _Obj:
        """A new assistant from a create body (400 without a model)."""
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise refuse("missing_param", param="model")
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

    def delete_thread(self, thread_id: str) -> None:
        """Remove the thread with its messages, runs and steps (404 if unknown)."""
        thread = self.thread(thread_id)
        for mid in thread.messages:
            self.messages.pop(mid, None)
        for rid in thread.runs:
            run = self.runs.pop(rid)
            for step in run.steps:
                self.steps.pop(step["id"], None)
        del self.threads[thread_id]
