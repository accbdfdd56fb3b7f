"""Miniature background-responses clients, each deliberately wrong in one way, with correct twins:
the response contracts must catch every wrong one by exactly the property it breaks and pass the
twins. The official guide's poller is here verbatim in shape (``from time import sleep``)."""

from __future__ import annotations

import time
from time import sleep
from typing import Any

ACTIVE = {"queued", "in_progress"}  # as the guide writes it, in the client's own code
MODEL = "gpt-4o"
PROMPT = "What is my order total?"


# -- pollers: f(client, response_id) -> response ------------------------------------------------


def guide_poller(client: Any, response_id: str) -> Any:
    """The background-mode guide's poller, in shape: poll every 2 s while queued or in_progress
    (no deadline)."""
    resp = client.responses.retrieve(response_id)
    while resp.status in {"queued", "in_progress"}:
        print(f"Current status: {resp.status}")
        sleep(2)
        resp = client.responses.retrieve(resp.id)
    return resp


def guide_example(client: Any) -> Any:
    """The background-mode guide's whole example: create in the background, then poll."""
    resp = client.responses.create(
        model="o3",
        input="Write a very long novel about otters in space.",
        background=True,
    )
    while resp.status in {"queued", "in_progress"}:
        print(f"Current status: {resp.status}")
        sleep(2)
        resp = client.responses.retrieve(resp.id)
    print(f"Final status: {resp.status}\nOutput:\n{resp.output_text}")
    return resp


def _poll(
    client: Any,
    response_id: str,
    *,
    active: set[str] | frozenset[str] = frozenset(ACTIVE),
    pause: float = 2.0,
    deadline: float = 300.0,
) -> Any:
    """Poll while the status is in `active`, every `pause` seconds; past the deadline, cancel
    the response and return what the cancel answers."""
    give_up = time.monotonic() + deadline
    resp = client.responses.retrieve(response_id)
    while resp.status in active:
        if time.monotonic() > give_up:
            return client.responses.cancel(response_id)
        sleep(pause)
        resp = client.responses.retrieve(response_id)
    return resp


def good_poller(client: Any, response_id: str) -> Any:
    """Polls every 2 s while active; past its deadline it cancels the response and returns
    what the cancel answers."""
    return _poll(client, response_id)


def good_example(client: Any) -> Any:
    """The guide's example with a deadline: creates its response, then polls it as
    `good_poller` does."""
    resp = client.responses.create(model="o3", input="Write a novel.", background=True)
    return _poll(client, resp.id)


def abandoning_poller(client: Any, response_id: str) -> Any:
    """Gives up at its deadline by raising, and leaves the response running."""
    give_up = time.monotonic() + 60
    resp = client.responses.retrieve(response_id)
    while resp.status in ACTIVE:
        if time.monotonic() > give_up:
            raise TimeoutError(f"{response_id} still {resp.status}")
        sleep(2)
        resp = client.responses.retrieve(response_id)
    return resp


def queued_only_poller(client: Any, response_id: str) -> Any:
    """Polls only while queued: returns a response still in progress."""
    return _poll(client, response_id, active={"queued"})


def until_completed_poller(client: Any, response_id: str) -> Any:
    """Polls until completed: on failed (or any other terminal status) it keeps polling."""
    statuses = {"queued", "in_progress", "failed", "incomplete", "cancelled"}
    return _poll(client, response_id, active=statuses)


def hasty_poller(client: Any, response_id: str) -> Any:
    """Sleeps a quarter of the interval it is given."""
    return _poll(client, response_id, pause=0.25)


def refetching_poller(client: Any, response_id: str) -> Any:
    """Once terminal, fetches the response once more (after a pause) to return it."""
    _poll(client, response_id)
    sleep(2)
    return client.responses.retrieve(response_id)


# -- stream consumers: f(client) -> events ------------------------------------------------------


def _consume(stream: Any, events: list[Any]) -> bool:
    """Read a stream to its end (or until the connection breaks); whether it ended on a
    terminal event."""
    try:
        for event in stream:
            events.append(event)
            if event.type in {"response.completed", "response.failed", "response.incomplete"}:
                return True
    except Exception:  # the connection broke off: the caller resumes
        return False
    return False


def _stream_consumer(step: int | None) -> Any:
    """A consumer that resumes a dropped stream from ``last + step`` (None: from the start)."""

    def consume(client: Any) -> list[Any]:
        events: list[Any] = []
        stream = client.responses.create(model=MODEL, input=PROMPT, background=True, stream=True)
        done = _consume(stream, events)
        response_id = events[0].response.id
        for _ in range(20):
            if done or client.responses.retrieve(response_id).status == "cancelled":
                return events  # a cancelled response's stream just ends
            if step is None:
                stream = client.responses.retrieve(response_id, stream=True)
            else:
                after = events[-1].sequence_number + step
                stream = client.responses.retrieve(response_id, stream=True, starting_after=after)
            before = len(events)
            done = _consume(stream, events)
            if len(events) == before:
                return events  # nothing more to read
        return events

    return consume


good_stream = _stream_consumer(0)
good_stream.__doc__ = "Resumes from the last sequence number it received."
rereading_stream = _stream_consumer(None)
rereading_stream.__doc__ = "Resumes from the start of the stream (repeats every event)."
skipping_stream = _stream_consumer(1)
skipping_stream.__doc__ = "Resumes after last + 1 (loses an event)."


# -- tool loops: f(client, tools) -> response ---------------------------------------------------


def _wait(client: Any, resp: Any) -> Any:
    return _poll(client, resp.id) if resp.status in ACTIVE else resp


def _tool_loop(
    *, answer_all: bool = True, chain: bool = True, background_again: bool = True
) -> Any:
    def loop(client: Any, tools: list[dict[str, Any]]) -> Any:
        resp = client.responses.create(model=MODEL, input=PROMPT, tools=tools, background=True)
        for _ in range(10):
            resp = _wait(client, resp)
            calls = [o for o in resp.output if o.type == "function_call"]
            if resp.status != "completed" or not calls:
                return resp
            answered = calls if answer_all else calls[:1]
            outputs = [
                {"type": "function_call_output", "call_id": c.call_id, "output": "42"}
                for c in answered
            ]
            more: dict[str, Any] = {"background": True} if background_again else {}
            if chain:
                more["previous_response_id"] = resp.id
            resp = client.responses.create(model=MODEL, input=outputs, tools=tools, **more)
        return resp

    return loop


good_tool_loop = _tool_loop()
good_tool_loop.__doc__ = "Answers every call, chained, in the background, round after round."
first_call_only_loop = _tool_loop(answer_all=False)
first_call_only_loop.__doc__ = "Answers only the first call of each round."
unchained_loop = _tool_loop(chain=False)
unchained_loop.__doc__ = "Forgets previous_response_id."
foreground_again_loop = _tool_loop(background_again=False)
foreground_again_loop.__doc__ = "Drops background on round two."
