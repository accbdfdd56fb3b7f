"""Small clients that are wrong on purpose, one per bug class real clients have shipped.

Each takes ``(client, thread_id, run_id)`` like the code the kit tests, and each is caught by one
property. The correct ones at the end must pass. Status sets here are the *clients'* own (wrong)
beliefs, which is the point: they are not the model's.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

# the first miniature is the seed lesson's own poller, as the demo ships it
from conformance.cli.demo import lesson_poll_run_status as lesson_poll_run_status

# -- waiters ------------------------------------------------------------------------------------


def returns_on_cancelling(client: Any, thread_id: str, run_id: str) -> Any:
    """Stops on "anything but queued/in_progress", so it returns `cancelling` as if final."""
    while True:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status not in ("queued", "in_progress"):
            return run
        time.sleep(1)


def misspelled_statuses(client: Any, thread_id: str, run_id: str) -> Any:
    """ "canceled" for cancelled and no "incomplete": loops forever on either."""
    done = {"completed", "failed", "canceled", "expired", "requires_action"}
    while True:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status in done:
            return run
        time.sleep(1)


def hot_loop(client: Any, thread_id: str, run_id: str) -> Any:
    """Never sleeps between polls."""
    while True:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status in (
            "requires_action",
            "completed",
            "failed",
            "cancelled",
            "expired",
            "incomplete",
        ):
            return run


def ignores_poll_after(client: Any, thread_id: str, run_id: str) -> Any:
    """Sleeps far less than the server's `openai-poll-after-ms` hint."""
    while True:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status in (
            "requires_action",
            "completed",
            "failed",
            "cancelled",
            "expired",
            "incomplete",
        ):
            return run
        time.sleep(0.01)


def sdk_poll(client: Any, thread_id: str, run_id: str) -> Any:
    """The SDK's own helper: a correct waiter."""
    return client.beta.threads.runs.poll(run_id, thread_id=thread_id)


# -- drivers ------------------------------------------------------------------------------------


def _outputs(calls: list[Any]) -> list[dict[str, str]]:
    return [{"tool_call_id": c.id, "output": json.dumps({"ok": c.function.name})} for c in calls]


def answers_first_call_only(client: Any, thread_id: str, run_id: str) -> Any:
    """Submits an output for the first tool call of a round and drops the rest."""
    while True:
        run = client.beta.threads.runs.poll(run_id, thread_id=thread_id)
        if run.status != "requires_action":
            return run
        calls = run.required_action.submit_tool_outputs.tool_calls
        client.beta.threads.runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=_outputs(calls[:1])
        )


def answers_first_round_only(client: Any, thread_id: str, run_id: str) -> Any:
    """Handles one requires_action round, then treats the next one as the end."""
    run = client.beta.threads.runs.poll(run_id, thread_id=thread_id)
    if run.status == "requires_action":
        calls = run.required_action.submit_tool_outputs.tool_calls
        client.beta.threads.runs.submit_tool_outputs(
            run_id, thread_id=thread_id, tool_outputs=_outputs(calls)
        )
        run = client.beta.threads.runs.poll(run_id, thread_id=thread_id)
    return run


def one_request_per_call(client: Any, thread_id: str, run_id: str) -> Any:
    """Submits each output in its own request: partial outputs, then a submit outside the round."""
    while True:
        run = client.beta.threads.runs.poll(run_id, thread_id=thread_id)
        if run.status != "requires_action":
            return run
        for call in run.required_action.submit_tool_outputs.tool_calls:
            client.beta.threads.runs.submit_tool_outputs(
                run_id, thread_id=thread_id, tool_outputs=_outputs([call])
            )


def times_out_without_cancel(client: Any, thread_id: str, run_id: str, timeout: float = 30) -> Any:
    """Gives up after a local timeout and raises, leaving the run active and the thread locked."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.beta.threads.runs.retrieve(thread_id=thread_id, run_id=run_id)
        if run.status == "requires_action":
            client.beta.threads.runs.submit_tool_outputs(
                run_id,
                thread_id=thread_id,
                tool_outputs=_outputs(run.required_action.submit_tool_outputs.tool_calls),
            )
        elif run.status in ("completed", "failed", "cancelled", "expired", "incomplete"):
            return run
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} took longer than {timeout}s")
        time.sleep(1)


def careful_driver(client: Any, thread_id: str, run_id: str, timeout: float = 300) -> Any:
    """A correct driver: answers every call of every round in one request, and on timeout
    cancels (only an in_progress run may be cancelled) and waits for the run to end."""
    deadline = time.monotonic() + timeout
    while True:
        run = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        if run.status == "requires_action":
            calls = run.required_action.submit_tool_outputs.tool_calls
            # the run may move on (expire, be cancelled elsewhere) while we work: look again
            with contextlib.suppress(Exception):
                client.beta.threads.runs.submit_tool_outputs(
                    run_id, thread_id=thread_id, tool_outputs=_outputs(calls)
                )
            continue
        if run.status in ("completed", "failed", "cancelled", "expired", "incomplete"):
            return run
        if time.monotonic() > deadline and run.status == "in_progress":
            client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
        time.sleep(1)


def submits_after_expiry(client: Any, thread_id: str, run_id: str) -> Any:
    """Its tool takes longer than the run's ten minutes and it submits anyway, unguarded."""
    while True:
        run = client.beta.threads.runs.poll(run_id, thread_id=thread_id)
        if run.status != "requires_action":
            return run
        time.sleep(700)  # the tool's own work: longer than expires_at allows
        client.beta.threads.runs.submit_tool_outputs(
            run_id,
            thread_id=thread_id,
            tool_outputs=_outputs(run.required_action.submit_tool_outputs.tool_calls),
        )
