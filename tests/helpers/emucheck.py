"""Checks on what the emulator said, shared by its tests.

Every reply is checked by the `emu` fixture at teardown: each JSON object must validate
as the SDK's pydantic model for its ``object`` type and carry every key that model declares, and
each streamed event must validate as the SDK's ``AssistantStreamEvent``. Clients are built with
``_strict_response_validation=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
from openai.types.beta import (
    Assistant,
    AssistantDeleted,
    AssistantStreamEvent,
    Thread,
    ThreadDeleted,
)
from openai.types.beta.threads import Message, MessageDeleted, Run
from openai.types.beta.threads.runs import RunStep

from conformance.emulator import Emulator
from runmodel import LINKS, RULES, RUN, Strictness

MODELS: dict[str, type[pydantic.BaseModel]] = {
    "assistant": Assistant,
    "assistant.deleted": AssistantDeleted,
    "thread": Thread,
    "thread.deleted": ThreadDeleted,
    "thread.run": Run,
    "thread.message": Message,
    "thread.message.deleted": MessageDeleted,
    "thread.run.step": RunStep,
}
_EVENTS: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(AssistantStreamEvent)


def problems_in_object(obj: Mapping[str, Any]) -> list[str]:
    """Why `obj` is not a complete, valid SDK object (an empty list when it is)."""
    if "error" in obj and len(obj) == 1:
        return []
    kind = obj.get("object")
    if kind == "list":
        return [p for item in obj["data"] for p in problems_in_object(item)]
    model = MODELS.get(str(kind))
    if model is None:
        return [f"unknown object type {kind!r}"]
    missing = sorted(set(model.model_fields) - set(obj))
    out = [f"{kind} lacks {', '.join(missing)}"] if missing else []
    try:
        model.model_validate(obj)
    except pydantic.ValidationError as exc:
        out.append(f"{kind} does not validate: {exc}")
    return out


def problems_in_log(emu: Emulator) -> list[str]:
    """Every problem with every reply the emulator gave so far."""
    out: list[str] = []
    for rec in emu.requests:
        where = f"request {rec.seq} {rec.method} {rec.path}"
        body = rec.json()
        if isinstance(body, dict):
            out += [f"{where}: {p}" for p in problems_in_object(body)]
        for name, data in rec.stream_events():
            if name == "done":
                continue
            try:
                _EVENTS.validate_python({"event": name, "data": data})
            except pydantic.ValidationError as exc:
                out.append(f"{where}: event {name} does not validate: {exc}")
            if isinstance(data, dict) and data.get("object") in MODELS:
                out += [f"{where}: event {name}: {p}" for p in problems_in_object(data)]
    return out


def run_objects(emu: Emulator, run_id: str) -> list[dict[str, Any]]:
    """Every version of the run the emulator showed, in order: replies and streamed events."""
    out: list[dict[str, Any]] = []
    for rec in emu.requests:
        body = rec.json()
        objs = body["data"] if isinstance(body, dict) and body.get("object") == "list" else [body]
        objs += [data for _, data in rec.stream_events()]
        out += [
            o
            for o in objs
            if isinstance(o, dict) and o.get("object") == "thread.run" and o.get("id") == run_id
        ]
    return out


def trace_problems(
    objs: list[dict[str, Any]], strictness: Strictness, *, trusted_only: bool = True
) -> list[str]:
    """Field rules broken by any version of one run, and status changes no model path explains."""
    out: list[str] = []
    prev: dict[str, Any] | None = None
    for i, obj in enumerate(objs):
        status = obj["status"]
        for rule in RULES[RUN.name]:
            if trusted_only and not rule.evidence.trusted:
                continue
            found = rule.snapshot(obj) if status in rule.statuses else None
            if found is None and prev is not None and rule.stateful:
                found = rule.change(prev, obj)
            if found is not None:
                out.append(f"version {i} ({status}): {rule.code}: {found}")
        if prev is not None and RUN.path(prev["status"], status, strictness) is None:
            out.append(f"version {i}: {prev['status']} → {status}: no path at {strictness.value}")
        prev = obj
    return out


def link_problems(run: Mapping[str, Any], children: list[dict[str, Any]]) -> list[str]:
    """The model's links broken by the run's steps and messages (`children`) as they stand.

    A tool_calls link concerns the step of the round the run waits on (the checker reads it so
    too); earlier rounds' steps are rightly completed.
    """
    out: list[str] = []
    action = (run.get("required_action") or {}).get("submit_tool_outputs") or {}
    waited_on = {c["id"] for c in action.get("tool_calls", ())}
    for link in LINKS:
        if run["status"] not in link.run_statuses:
            continue
        for child in children:
            kind = "run_step" if child["object"] == "thread.run.step" else "message"
            if kind != link.lifecycle or (link.step_type and child.get("type") != link.step_type):
                continue
            if link.step_type == "tool_calls":  # only the round the run waits on, not earlier ones
                calls = {c["id"] for c in child["step_details"].get("tool_calls", ())}
                if waited_on and not calls & waited_on:
                    continue
            if child.get("run_id") == run["id"] and child["status"] in link.from_statuses:
                out.append(
                    f"{link.code}: {child['id']} is {child['status']} "
                    f"while the run is {run['status']}"
                )
    return out


def create_assistant(client: Any, **body: Any) -> Any:
    """``client.beta.assistants.create`` with a body given as a mapping (e.g. the lesson's)."""
    return client.beta.assistants.create(**body)
