"""Run steps: a tool-calls step per requires_action round, a message-creation step per reply,
each settled with its run."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from runmodel import STEP, VALUES, Trigger

from .fields import STEP_FIELDS
from .storage import Run, Storage
from .streams import emit

__all__ = [
    "LESSON_ARGS",
    "RUN_ERRORS",
    "USAGE",
    "close_steps",
    "finish_step",
    "new_step",
    "record_outputs",
    "tool_round",
]

_Obj = dict[str, Any]

USAGE = {"prompt_tokens": 327, "completion_tokens": 340, "total_tokens": 667}
"""The usage of a run that started, and of a completed step (the lesson's run)."""

LESSON_ARGS = json.dumps(
    {"items": [{"item_type": "书籍", "quantity": 1}, {"item_type": "电子产品", "quantity": 1}]},
    ensure_ascii=False,
    separators=(",", ":"),
)
"""The arguments of a ``calculate_order_total`` call, as the lesson's run sent them."""

RUN_ERRORS = {
    "server_error": "Sorry, something went wrong.",
    "rate_limit_exceeded": (
        "You exceeded your current quota, please check your plan and billing details."
    ),
    "invalid_prompt": (
        "Invalid prompt: your prompt was flagged as potentially violating our usage policy."
    ),
}
"""``last_error.message`` of a failed run (and its open steps), by ``last_error.code``."""

_STEP_CODES = VALUES["run_step.last_error.code"].values
_SETTLE = {"cancelled": Trigger.CANCEL, "failed": Trigger.FAIL, "expired": Trigger.EXPIRE}


def new_step(storage: Storage, run: Run, kind: str, details: _Obj, t: float) -> _Obj:
    """A new in-progress step of the run, announced in its events."""
    step: _Obj = {
        "id": storage.new_id("step"),
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
    STEP_FIELDS.enter(step, STEP.initial, t)
    run.steps.append(step)
    storage.steps[step["id"]] = (run, step)
    emit(run, "thread.run.step.created", step)
    emit(run, f"thread.run.step.{STEP.initial}", step)
    return step


def finish_step(run: Run, step: _Obj, trigger: str, t: float, *, code: str | None = None) -> None:
    """Move the step by `trigger` (a failure carries the run's error `code`)."""
    dest = STEP.fire(step["status"], trigger).dest
    if code is not None:
        step["last_error"] = {
            "code": code if code in _STEP_CODES else _STEP_CODES[0],
            "message": RUN_ERRORS[code],
        }
    if dest == "completed":
        step["usage"] = dict(USAGE)
    STEP_FIELDS.enter(step, dest, t)
    emit(run, f"thread.run.step.{dest}", step)


def close_steps(run: Run, how: str, t: float, *, code: str | None = None) -> None:
    """Settle the run's open steps with it: cancelled, failed or expired."""
    trigger = _SETTLE.get(how)
    if trigger is None:
        return
    for step in run.open_steps:
        finish_step(run, step, trigger, t, code=code if trigger == Trigger.FAIL else None)
    run.open_steps = []


def _pick_calls(storage: Storage, run: Run, n: int) -> list[tuple[str, str]]:
    """The round's (function name, arguments): the tool caller's, then the run's tools in turn."""
    functions = [
        tool["function"]
        for tool in run.obj["tools"]
        if isinstance(tool, Mapping)
        and tool.get("type") == "function"
        and isinstance(tool.get("function"), Mapping)
    ]
    picked: list[tuple[str, str]] = []
    if storage.tool_calls is not None:
        picked = storage.tool_calls(run.obj, n)
    for i in range(len(picked), n):
        name = (
            str(functions[i % len(functions)].get("name", "function")) if functions else "function"
        )
        picked.append((name, LESSON_ARGS if name == "calculate_order_total" else "{}"))
    return picked[:n]


def tool_round(storage: Storage, run: Run, n: int, t: float) -> None:
    """A requires_action round of `n` calls: its step, its delta event, the required action."""
    calls: list[_Obj] = [
        {"id": storage.new_id("call"), "type": "function", "function": {"name": f, "arguments": a}}
        for f, a in _pick_calls(storage, run, n)
    ]
    run.calls = tuple(c["id"] for c in calls)
    step = new_step(storage, run, "tool_calls", {"type": "tool_calls", "tool_calls": []}, t)
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
    emit(run, "thread.run.step.delta", delta)
    run.open_steps.append(step)
    run.obj["required_action"] = {
        "type": "submit_tool_outputs",
        "submit_tool_outputs": {"tool_calls": calls},
    }


def record_outputs(run: Run, outputs: Any, t: float) -> None:
    """The client's outputs for the current round: each open step shows them and completes."""
    by_id = {o["tool_call_id"]: o.get("output") for o in outputs if isinstance(o, Mapping)}
    for step in run.open_steps:
        step["step_details"] = {
            "type": "tool_calls",
            "tool_calls": [
                {**c, "function": {**c["function"], "output": str(by_id.get(c["id"]) or "")}}
                for c in step["step_details"]["tool_calls"]
            ],
        }
        finish_step(run, step, Trigger.COMPLETE, t)
    run.open_steps = []
    run.outputs.extend(str(by_id[c] or "") for c in run.calls)
    run.calls = ()
