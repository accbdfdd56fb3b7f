"""``runmodel conform --api responses``: the scenario suite for the Responses API's background mode.

The same machinery as the runs suite (`conformance.conform`): each scenario drives the real
openai SDK against the server, the recorder writes every exchange, and the checker judges the
trace against the model's ``response`` lifecycle and its protocol facts. Scenarios that break a
rule on purpose (a cancel of a foreground response, a round with a missing output) judge the
*server's* reply: it must refuse them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runmodel import RESPONSE

from .conform import Skip, Suite
from .lesson import ORDER_TOTAL

__all__ = ["RESPONSES", "SCENARIOS"]

_MODEL = "gpt-4o-mini"
_TOOL = {
    "type": "function",
    "name": ORDER_TOTAL,
    "description": "Total price of a shopping cart",
    "parameters": {"type": "object", "properties": {"items": {"type": "array"}}},
    "strict": False,
}
_ASK = "What do 2 books and a pen cost? Use the tool once per item."
_POLL_SECONDS = 1.0  # the guide polls every 2 s; the emulator's clock is virtual
_POLLS = 600  # about ten minutes of polling: the retention window (fact response.poll.retention)


@dataclass(slots=True)
class _Context:
    client: Any
    emulator: Any  # the in-process Emulator, or None for a remote server
    slow: bool
    created: list[str] = field(default_factory=list)  # response ids the scenario created

    def script(self, text: str) -> None:
        """Give the next response a script (only the embedded emulator takes one)."""
        if self.emulator is not None:
            self.emulator.queue_response_scripts(text)

    def create(self, *, background: bool = True, tools: bool = False, **kw: Any) -> Any:
        """Create a response (not streamed) and remember its id."""
        if tools:
            kw.update(tools=[_TOOL], tool_choice="required")
        kw.setdefault("input", _ASK)
        r = self.client.responses.create(model=_MODEL, background=background, **kw)
        self.created.append(r.id)
        return r

    def wait(self, r: Any) -> Any:
        """Poll until the response is terminal, as the guide's poller does (at a sane pace)."""
        for _ in range(_POLLS):
            if r.status in RESPONSE.terminal:
                return r
            time.sleep(_POLL_SECONDS)
            r = self.client.responses.retrieve(r.id)
        raise AssertionError(f"the response stayed {r.status} for {_POLLS} polls")

    def until_not(self, r: Any, status: str) -> Any:
        """Poll while the response is in `status` (at most a minute)."""
        for _ in range(60):
            if r.status != status:
                return r
            time.sleep(_POLL_SECONDS)
            r = self.client.responses.retrieve(r.id)
        return r

    def finished(self, **kw: Any) -> Any:
        """A background response polled to its end."""
        self.script("start+1, complete+1")
        r = self.wait(self.create(**kw))
        if r.status != "completed":
            raise Skip(f"the response ended {r.status}, not completed")
        return r

    def refused(self, call: Callable[[], Any], what: str) -> Any:
        """Make a call the model forbids; the server must refuse it with a 400 (the checker
        judges the rest of the reply)."""
        import openai

        try:
            call()
        except openai.BadRequestError as exc:
            return exc
        except openai.APIStatusError as exc:
            raise AssertionError(f"{what}: answered {exc.status_code}, not 400") from None
        raise AssertionError(f"{what}: the server accepted it")

    def stream(self, events: Any, stop_after: int | None = None) -> list[Any]:
        """Read a stream's events (all, or the first `stop_after`, then drop the connection);
        a response.created event names the response, which the scenario remembers."""
        seen: list[Any] = []
        with events:
            for event in events:
                seen.append(event)
                if event.type == "response.created" and event.response.id not in self.created:
                    self.created.append(event.response.id)
                if stop_after is not None and len(seen) >= stop_after:
                    break
        return seen


def _background(c: _Context) -> None:
    c.script("start+1, complete+3")
    r = c.create()
    r = c.wait(r)
    if r.status != "completed":
        raise Skip(f"the response ended {r.status}, not completed")


def _foreground(c: _Context) -> None:
    c.script("start+1, complete+2")
    r = c.create(background=False)
    if r.status not in RESPONSE.terminal:
        raise AssertionError(f"a foreground create answered {r.status}, before its end")
    c.client.responses.retrieve(r.id)


def _streamed(c: _Context) -> None:
    c.script("start+1, complete+3")
    events = c.stream(
        c.client.responses.create(model=_MODEL, input=_ASK, background=True, stream=True)
    )
    if not events:
        raise AssertionError("the stream sent no event")


def _resume(c: _Context) -> None:
    c.script("start+1, complete+3")
    first = c.stream(
        c.client.responses.create(model=_MODEL, input=_ASK, background=True, stream=True),
        stop_after=2,
    )
    if not c.created:
        raise AssertionError("the stream did not open with response.created")
    last = first[-1].sequence_number
    rest = c.stream(c.client.responses.retrieve(c.created[0], stream=True, starting_after=last))
    if not rest:
        raise Skip("the response had ended before the drop: nothing left to resume")


def _cancel_queued(c: _Context) -> None:
    c.script("start+30, complete+30")
    r = c.create()
    if r.status != "queued":
        raise Skip(f"the response was {r.status} at creation, not queued")
    r = c.client.responses.cancel(r.id)
    c.wait(r)


def _cancel_running(c: _Context) -> None:
    c.script("start+1, complete+120")
    r = c.until_not(c.create(), "queued")
    if r.status != "in_progress":
        raise Skip(f"the response was {r.status}, never seen in_progress to cancel")
    r = c.wait(c.client.responses.cancel(r.id))
    time.sleep(5 * _POLL_SECONDS)  # read again later: a cancelled response stays cancelled
    c.client.responses.retrieve(r.id)


def _cancel_twice(c: _Context) -> None:
    c.script("start+1, complete+120")
    r = c.client.responses.cancel(c.create().id)
    r = c.wait(r)
    if r.status != "cancelled":
        raise Skip(f"the first cancel left the response {r.status}")
    c.client.responses.cancel(r.id)  # answers it unchanged (fact response.cancel.idempotent)


def _cancel_finished(c: _Context) -> None:
    import openai

    r = c.finished()
    # 200 unchanged or a refusal: the evidence is disputed, the checker grades the reply
    with contextlib.suppress(openai.APIStatusError):
        c.client.responses.cancel(r.id)
    c.client.responses.retrieve(r.id)


def _cancel_foreground(c: _Context) -> None:
    c.script("start+1, complete+1")
    r = c.create(background=False)
    c.refused(lambda: c.client.responses.cancel(r.id), "a cancel of a foreground response")


def _round(c: _Context, answer_all: bool) -> None:
    c.script("start+1, complete(2)+2")
    r = c.wait(c.create(tools=True))
    calls = [item for item in r.output if item.type == "function_call"]
    if r.status != "completed" or not calls:
        raise Skip(f"the response ended {r.status} with {len(calls)} function call(s)")
    answered = calls if answer_all else calls[:-1]
    outputs: list[Any] = [
        {"type": "function_call_output", "call_id": x.call_id, "output": '{"total": 42}'}
        for x in answered
    ]
    outputs = outputs or [{"role": "user", "content": "go on"}]

    def answer() -> Any:
        c.script("start+1, complete+2")
        return c.create(previous_response_id=r.id, input=outputs, tools=True)

    if answer_all:
        c.wait(answer())
    else:
        c.refused(answer, f"a round answering {len(answered)} of {len(calls)} calls")


def _answered(c: _Context) -> None:
    _round(c, answer_all=True)


def _missing_output(c: _Context) -> None:
    _round(c, answer_all=False)


def _delete(c: _Context) -> None:
    import openai

    r = c.finished()
    c.client.responses.delete(r.id)
    try:
        c.client.responses.retrieve(r.id)
    except openai.NotFoundError:
        return
    raise AssertionError("a deleted response could still be retrieved")


def _input_items(c: _Context) -> None:
    r = c.finished()
    items = list(c.client.responses.input_items.list(r.id))
    texts = [getattr(part, "text", None) for i in items for part in getattr(i, "content", [])]
    if _ASK not in texts:
        raise AssertionError(f"the input items {texts} do not hold the input sent")


SCENARIOS: dict[str, tuple[str, Callable[[_Context], Any]]] = {
    "background": ("a background response polled to completion", _background),
    "foreground": ("a foreground response (not background)", _foreground),
    "stream": ("a streamed background response", _streamed),
    "resume": ("a dropped stream resumed with starting_after", _resume),
    "cancel-queued": ("cancel while queued", _cancel_queued),
    "cancel-running": ("cancel while in progress", _cancel_running),
    "cancel-twice": ("a second cancel (idempotent)", _cancel_twice),
    "cancel-finished": ("cancel of a completed response", _cancel_finished),
    "cancel-fg": ("cancel of a foreground response (expect 400)", _cancel_foreground),
    "round": ("a function round chained with previous_response_id", _answered),
    "round-missing": ("a round with a missing output (expect 400)", _missing_output),
    "delete": ("delete, then retrieve answers 404", _delete),
    "input-items": ("the input items of a response", _input_items),
}
"""Every scenario: name → (what it does, how)."""


def _probe(client: Any) -> object:
    """A retrieve of an id that does not exist: any answer but a connection or key error shows
    the server is there."""
    import openai

    try:
        return client.responses.retrieve("resp_runmodel_probe")
    except (openai.AuthenticationError, openai.APIConnectionError):
        raise
    except openai.APIStatusError as exc:
        return exc


RESPONSES = Suite("responses", SCENARIOS, _Context, _probe)
"""The Responses API suite (``runmodel conform --api responses``)."""
