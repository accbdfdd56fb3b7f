"""What the harness needs of the server it plays lifecycles on, and nothing more: the
emulator's public hooks and read accessors, as a protocol (the emulator satisfies it)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..emulator.wire import Answers

if TYPE_CHECKING:
    import openai

    from ..emulator import Clock, Reply, Request, Script, ScriptChooser, Sleep
    from ..emulator.state import ToolCaller

__all__ = ["Server", "StoredRun"]


class StoredRun(Protocol):
    """A run as the server stores it, read only (not advanced to now)."""

    @property
    def status(self) -> str: ...

    @property
    def obj(self) -> Mapping[str, Any]: ...

    @property
    def events(self) -> Sequence[tuple[str, Any]]: ...


class Server(Answers, Protocol):
    """An emulator as the harness drives it: it starts the lifecycle, watches each request
    (before, its reply, after), names each round's tool calls, and reads the runs back."""

    clock: Clock
    requests: list[Request]
    on_request: Callable[[Request], None] | None
    before_request: Callable[[str, str], None] | None
    on_reply: Callable[[Request, Reply], Reply] | None
    script_chooser: ScriptChooser | None
    tool_calls: ToolCaller | None

    @property
    def lock(self) -> contextlib.AbstractContextManager[Any]: ...

    @property
    def poll_after_ms(self) -> int | None: ...

    @property
    def runs(self) -> Mapping[str, StoredRun]: ...

    def thread_of(self, run_id: str) -> str: ...

    def next_wake(self, run_id: str) -> float | None: ...

    def run_object(self, run_id: str) -> dict[str, Any]: ...

    def start_run(
        self,
        script: Script | str | None = None,
        *,
        assistant: Mapping[str, Any] | None = None,
        message: str = ...,
    ) -> tuple[str, str]: ...

    def start_thread(
        self, *, assistant: Mapping[str, Any] | None = None, message: str | None = None
    ) -> tuple[str, str]: ...

    def client(
        self, *, max_retries: int = 2, strict: bool = True, **kwargs: Any
    ) -> openai.OpenAI: ...

    def async_client(
        self, *, max_retries: int = 2, strict: bool = True, **kwargs: Any
    ) -> openai.AsyncOpenAI: ...

    def virtual_time(self) -> contextlib.AbstractContextManager[list[Sleep]]: ...
