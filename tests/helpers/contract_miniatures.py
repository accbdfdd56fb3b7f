"""Small clients for the app contract and the contract options, wrong on purpose or right.

Apps take ``(client, thread_id, assistant_id)`` and create their own runs; the drivers and
waiters take ``(client, thread_id, run_id)``. Status sets here are the clients' own beliefs.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

_ENDED = ("completed", "failed", "cancelled", "expired", "incomplete")


def _outputs(calls: list[Any]) -> list[dict[str, str]]:
    return [{"tool_call_id": c.id, "output": json.dumps({"ok": c.function.name})} for c in calls]


# -- apps that create their own run -------------------------------------------------------------


def app_create_and_poll(client: Any, thread_id: str, assistant_id: str) -> Any:
    """Correct: the SDK's create_and_poll, every round answered with submit_and_poll."""
    runs = client.beta.threads.runs
    run = runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    while run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        run = runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread_id, tool_outputs=_outputs(calls)
        )
    return run


def app_first_round_only(client: Any, thread_id: str, assistant_id: str) -> str:
    """Answers one round, then returns whatever came next: a second round is left unanswered."""
    runs = client.beta.threads.runs
    run = runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    if run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        run = runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread_id, tool_outputs=_outputs(calls)
        )
    return "done"


async def app_async(client: Any, thread_id: str, assistant_id: str) -> Any:
    """Correct, on AsyncOpenAI."""
    runs = client.beta.threads.runs
    run = await runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    while run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        run = await runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread_id, tool_outputs=_outputs(calls)
        )
    return run


async def app_async_no_tools(client: Any, thread_id: str, assistant_id: str) -> Any:
    """Thinks its assistant never calls tools: returns a run that waits for outputs."""
    return await client.beta.threads.runs.create_and_poll(
        thread_id=thread_id, assistant_id=assistant_id
    )


def app_streams(client: Any, thread_id: str, assistant_id: str) -> Any:
    """Correct, streamed: each round's outputs submitted on a stream of their own."""
    runs = client.beta.threads.runs
    with runs.stream(thread_id=thread_id, assistant_id=assistant_id) as stream:
        stream.until_done()
        run = stream.get_final_run()
    while run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        with runs.submit_tool_outputs_stream(
            run_id=run.id, thread_id=thread_id, tool_outputs=_outputs(calls)
        ) as stream:
            stream.until_done()
            run = stream.get_final_run()
    return run


def app_streams_once(client: Any, thread_id: str, assistant_id: str) -> Any:
    """Streams the run once and takes the end of the stream for the end of the run."""
    with client.beta.threads.runs.stream(thread_id=thread_id, assistant_id=assistant_id) as s:
        s.until_done()
        return s.get_final_run()


# -- apps that retry with a fresh run ------------------------------------------------------------


def _poll_until(client: Any, thread_id: str, run_id: str, deadline: float) -> Any:
    """Poll (answering rounds) until the run ends or the deadline passes."""
    runs = client.beta.threads.runs
    while True:
        run = runs.retrieve(run_id, thread_id=thread_id)
        if run.status == "requires_action":
            calls = run.required_action.submit_tool_outputs.tool_calls
            with contextlib.suppress(
                Exception
            ):  # the run moved on meanwhile (expired, cancelled): look again
                runs.submit_tool_outputs(run_id, thread_id=thread_id, tool_outputs=_outputs(calls))
            continue
        if run.status in _ENDED or time.monotonic() > deadline:
            return run
        time.sleep(1)


def app_retries(client: Any, thread_id: str, assistant_id: str, attempts: int = 3) -> Any:
    """Correct: gives a run 60 s, then cancels it, waits until it has ended, and tries again
    with a fresh run (also after a failed run)."""
    runs = client.beta.threads.runs
    run = None
    for _ in range(attempts):
        run = runs.create(thread_id=thread_id, assistant_id=assistant_id)
        run = _poll_until(client, thread_id, run.id, time.monotonic() + 60)
        if run.status == "in_progress":
            with contextlib.suppress(Exception):  # it ended or was cancelled meanwhile
                runs.cancel(run.id, thread_id=thread_id)
        while run.status not in _ENDED:
            time.sleep(1)
            run = runs.retrieve(run.id, thread_id=thread_id)
        if run.status == "completed":
            return run
    return run


def app_retries_at_once(client: Any, thread_id: str, assistant_id: str, attempts: int = 3) -> Any:
    """Cancels a slow run and creates the next one at once, while the first is cancelling."""
    runs = client.beta.threads.runs
    run = None
    for _ in range(attempts):
        run = runs.create(thread_id=thread_id, assistant_id=assistant_id)
        run = _poll_until(client, thread_id, run.id, time.monotonic() + 60)
        if run.status == "completed":
            return run
        if run.status == "in_progress":
            runs.cancel(run.id, thread_id=thread_id)
    return run


def app_abandons(client: Any, thread_id: str, assistant_id: str) -> Any:
    """Gives up on a slow run without cancelling it and starts over on a new thread."""
    runs = client.beta.threads.runs
    run = runs.create(thread_id=thread_id, assistant_id=assistant_id)
    run = _poll_until(client, thread_id, run.id, time.monotonic() + 60)
    if run.status in _ENDED:
        return run
    retry = client.beta.threads.create_and_run(assistant_id=assistant_id)
    return _poll_until(client, retry.thread_id, retry.id, time.monotonic() + 600)


# -- a library that raises on failure by design --------------------------------------------------


def raises_on_failure(client: Any, thread_id: str, run_id: str) -> Any:
    """Raises once the run ended unsuccessfully, as its library documents; also stops on
    `cancelling`, which is not an end."""
    runs = client.beta.threads.runs
    while True:
        run = runs.retrieve(run_id, thread_id=thread_id)
        if run.status == "requires_action":
            calls = run.required_action.submit_tool_outputs.tool_calls
            runs.submit_tool_outputs(run_id, thread_id=thread_id, tool_outputs=_outputs(calls))
            continue
        if run.status in ("failed", "cancelled", "expired", "incomplete"):
            raise RuntimeError(f"run {run.id} ended {run.status}")
        if run.status in ("completed", "cancelling"):
            return run
        time.sleep(1)


def raises_on_failure_fixed(client: Any, thread_id: str, run_id: str) -> Any:
    """The same library with `cancelling` treated as not yet ended."""
    runs = client.beta.threads.runs
    while True:
        run = runs.retrieve(run_id, thread_id=thread_id)
        if run.status == "requires_action":
            calls = run.required_action.submit_tool_outputs.tool_calls
            with contextlib.suppress(
                Exception
            ):  # expired or cancelled meanwhile: the next poll says which
                runs.submit_tool_outputs(run_id, thread_id=thread_id, tool_outputs=_outputs(calls))
            continue
        if run.status in ("failed", "cancelled", "expired", "incomplete"):
            raise RuntimeError(f"run {run.id} ended {run.status}")
        if run.status == "completed":
            return run
        time.sleep(1)


# -- destructive calls -------------------------------------------------------------------------


def deletes_the_thread(client: Any, thread_id: str, run_id: str) -> Any:
    """Cleans up after itself, including the thread it was given."""
    run = client.beta.threads.runs.poll(run_id, thread_id=thread_id)
    client.beta.threads.delete(thread_id)
    return run


def deletes_the_assistant(client: Any, thread_id: str, assistant_id: str) -> Any:
    """Deletes the assistant it was given once its run is done."""
    run = app_create_and_poll(client, thread_id, assistant_id)
    client.beta.assistants.delete(assistant_id)
    return run


def deletes_its_own_thread(client: Any, thread_id: str, assistant_id: str) -> Any:
    """Correct: runs on a thread it creates, and deletes only that."""
    runs = client.beta.threads.runs
    run = client.beta.threads.create_and_run_poll(assistant_id=assistant_id)
    while run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        run = runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=run.thread_id, tool_outputs=_outputs(calls)
        )
    client.beta.threads.delete(run.thread_id)
    return run


# -- pacing and correctness at once --------------------------------------------------------------


def fast_and_partial(client: Any, thread_id: str, run_id: str) -> Any:
    """Polls every 0.2 s and answers only the first call of each round: two findings."""
    runs = client.beta.threads.runs
    while True:
        run = runs.retrieve(run_id, thread_id=thread_id)
        if run.status == "requires_action":
            calls = run.required_action.submit_tool_outputs.tool_calls
            runs.submit_tool_outputs(run_id, thread_id=thread_id, tool_outputs=_outputs(calls[:1]))
        elif run.status in _ENDED:
            return run
        time.sleep(0.2)


def polls_every_tenth(client: Any, thread_id: str, run_id: str) -> Any:
    """Configured to poll every 0.1 s: not a runaway, if that is the interval it was given."""
    while True:
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status in (*_ENDED, "requires_action"):
            return run
        time.sleep(0.1)


# -- the client's own tools --------------------------------------------------------------------

WEATHER_TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "minimum": 1, "maximum": 7},
                },
                "required": ["city", "unit"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "parameters": {
                "type": "object",
                "properties": {"zone": {"type": "string"}},
                "required": ["zone"],
            },
        },
    },
]


def _weather(city: str, unit: str, days: int = 1) -> str:
    if not isinstance(city, str) or unit not in ("celsius", "fahrenheit"):
        raise ValueError(f"bad arguments: {city!r}, {unit!r}")
    if not 1 <= days <= 7:
        raise ValueError(f"bad days: {days!r}")
    return f"sunny in {city}"


def _time(zone: str) -> str:
    return f"noon in {zone}"


AVAILABLE_FUNCTIONS = {"get_weather": _weather, "get_time": _time}


def own_tools_app(client: Any, thread_id: str, assistant_id: str) -> Any:
    """Dispatches each call on its own tool names, with the arguments the model chose."""
    runs = client.beta.threads.runs
    run = runs.create_and_poll(thread_id=thread_id, assistant_id=assistant_id)
    while run.status == "requires_action":
        outputs = []
        for call in run.required_action.submit_tool_outputs.tool_calls:
            function = AVAILABLE_FUNCTIONS[call.function.name]
            output = function(**json.loads(call.function.arguments))
            outputs.append({"tool_call_id": call.id, "output": output})
        run = runs.submit_tool_outputs_and_poll(
            run_id=run.id, thread_id=thread_id, tool_outputs=outputs
        )
    return run


def checks_the_assistant_name(client: Any, thread_id: str, assistant_id: str) -> Any:
    """A library that refuses any assistant but its own, by name."""
    if client.beta.assistants.retrieve(assistant_id).name != "Weather bot":
        raise ValueError("not the Weather bot assistant")
    return own_tools_app(client, thread_id, assistant_id)


def celsius_only(client: Any, thread_id: str, assistant_id: str) -> Any:
    """Its weather tool does not support fahrenheit, which the model may ask for."""
    run = own_tools_app(client, thread_id, assistant_id)
    for step in client.beta.threads.runs.steps.list(run.id, thread_id=thread_id):
        for call in getattr(step.step_details, "tool_calls", []):
            if json.loads(call.function.arguments).get("unit") == "fahrenheit":
                raise ValueError("fahrenheit is not supported")
    return run
