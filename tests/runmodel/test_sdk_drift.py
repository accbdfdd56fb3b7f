"""The model's status sets equal the installed SDK's, so SDK drift is caught."""

from __future__ import annotations

import importlib
import json
import typing
from typing import Any

import openai
import pytest
from openai.types.beta.threads import Message, Run, RunStatus
from openai.types.beta.threads.runs import RunStep

from runmodel import MESSAGE, RUN, STEP, VALUES


def _literal(tp: Any) -> set[str]:
    return set(typing.get_args(tp))


def _field_literal(model: Any, name: str) -> set[str]:
    return _literal(model.model_fields[name].annotation)


def test_run_statuses_equal_the_sdk() -> None:
    assert set(RUN.statuses) == _literal(RunStatus)
    assert set(RUN.statuses) == _literal(Run.model_fields["status"].annotation)


def test_step_statuses_equal_the_sdk() -> None:
    assert set(STEP.statuses) == _field_literal(RunStep, "status")


def test_message_statuses_equal_the_sdk() -> None:
    assert set(MESSAGE.statuses) == _field_literal(Message, "status")


def _http_module() -> Any:
    """The HTTP library the installed SDK is built on (httpx for 2.x, httpx2 for 3.x)."""
    major = int(openai.__version__.split(".")[0])
    return importlib.import_module("httpx2" if major >= 3 else "httpx")


def _run_json(status: str) -> dict[str, Any]:
    return {
        "id": "run_1", "object": "thread.run", "created_at": 1, "thread_id": "thread_1",
        "assistant_id": "asst_1", "status": status, "model": "gpt-4o", "instructions": "",
        "tools": [], "metadata": {}, "parallel_tool_calls": True,
        "required_action": None, "last_error": None, "expires_at": None, "started_at": None,
        "cancelled_at": None, "failed_at": None, "completed_at": None,
        "incomplete_details": None, "usage": None, "temperature": 1.0, "top_p": 1.0,
        "max_prompt_tokens": None, "max_completion_tokens": None, "truncation_strategy": None,
        "response_format": "auto", "tool_choice": "auto",
    }  # fmt: skip


@pytest.mark.parametrize("status", RUN.statuses)
def test_settled_is_exactly_where_the_sdk_poll_helper_returns(status: str) -> None:
    """`runs.poll` stops on settled statuses and keeps polling on the others."""
    http = _http_module()
    calls = 0

    def handler(request: Any) -> Any:
        nonlocal calls
        calls += 1
        # the first answer is the status under test, then a settled one so polling ends
        body = _run_json(status if calls == 1 else "completed")
        return http.Response(200, json=body, headers={"openai-poll-after-ms": "0"})

    client = openai.OpenAI(
        api_key="sk-test",
        base_url="http://127.0.0.1:9/v1",
        http_client=http.Client(transport=http.MockTransport(handler)),
    )
    run = client.beta.threads.runs.poll("run_1", thread_id="thread_1", poll_interval_ms=0)
    returned_first = calls == 1
    assert returned_first == (status in RUN.settled), json.dumps(
        {"status": status, "polls": calls, "returned": run.status}
    )


def _nested_literal(model: Any, *path: str) -> set[str]:
    """The Literal values of a (possibly Optional) field reached through nested models."""
    tp: Any = model
    for name in path:
        tp = tp.model_fields[name].annotation
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if typing.get_origin(tp) is typing.Union and args:
            tp = args[0]
    return _literal(tp)


@pytest.mark.parametrize(
    ("code", "model", "path"),
    [
        ("run.last_error.code", Run, ("last_error", "code")),
        ("run.incomplete_details.reason", Run, ("incomplete_details", "reason")),
        ("run.required_action.type", Run, ("required_action", "type")),
        ("run_step.last_error.code", RunStep, ("last_error", "code")),
        ("run_step.type", RunStep, ("type",)),
        ("message.incomplete_details.reason", Message, ("incomplete_details", "reason")),
    ],
)
def test_enumerated_values_equal_the_sdk(code: str, model: Any, path: tuple[str, ...]) -> None:
    assert set(VALUES[code].values) == _nested_literal(model, *path)
