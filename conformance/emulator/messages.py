"""Messages: a client's, complete as soon as it exists, and a run's reply, streamed in events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from runmodel import MESSAGE, VALUES, Trigger

from .apierror import refuse
from .fields import MESSAGE_FIELDS
from .steps import finish_step, new_step
from .storage import Run, Storage, Thread
from .streams import emit

__all__ = ["PLAIN_REPLY", "assistant_reply", "content_blocks", "new_message", "user_message"]

_Obj = dict[str, Any]

_MAX_TOKENS = "max_tokens"  # an incomplete message's reason when its run hit a token limit
if _MAX_TOKENS not in VALUES["message.incomplete_details.reason"].values:  # pragma: no cover
    raise RuntimeError(f"the model has no message incomplete reason {_MAX_TOKENS!r}")

PLAIN_REPLY = "你好！我是一个人工智能助手，可以帮你完成许多任务，例如计算购物车的商品总价。"
"""A run's reply when it had no tool outputs and its script names none."""


def content_blocks(value: Any) -> list[_Obj]:
    """Message content as the API returns it, from what a create call sent."""
    if isinstance(value, str):
        return [{"type": "text", "text": {"value": value, "annotations": []}}]
    if not isinstance(value, list):
        raise refuse("missing_param", param="content")
    out: list[_Obj] = []
    for part in value:
        if isinstance(part, Mapping) and part.get("type") == "text":
            out.append(
                {"type": "text", "text": {"value": str(part.get("text", "")), "annotations": []}}
            )
        elif isinstance(part, Mapping):
            out.append(dict(part))
    return out


def new_message(
    storage: Storage,
    thread: Thread,
    role: str,
    content: list[_Obj],
    t: float,
    *,
    run: Run | None = None,
    attachments: Any = (),
    metadata: Any = None,
) -> _Obj:
    """A message on the thread: a client's (complete at once) or, with `run`, the run's reply
    (in progress until `assistant_reply` ends it)."""
    obj: _Obj = {
        "id": storage.new_id("msg"),
        "object": "thread.message",
        "created_at": int(t),
        "thread_id": thread.obj["id"],
        "role": role,
        "content": content,
        "assistant_id": None if run is None else run.obj["assistant_id"],
        "run_id": None if run is None else run.obj["id"],
        "attachments": list(attachments),
        "metadata": metadata or {},
        "status": MESSAGE.initial,
        "completed_at": None,
        "incomplete_at": None,
        "incomplete_details": None,
    }
    if run is None:  # a client's message is complete as soon as it exists
        MESSAGE_FIELDS.enter(obj, MESSAGE.fire(MESSAGE.initial, Trigger.COMPLETE).dest, t)
    storage.messages[obj["id"]] = obj
    thread.messages.append(obj["id"])
    return obj


def user_message(storage: Storage, thread: Thread, body: Mapping[str, Any], t: float) -> _Obj:
    """A message from a create body (400 without a valid role or content)."""
    role = body.get("role")
    if role not in ("user", "assistant"):
        raise refuse("missing_param", param="role")
    return new_message(
        storage,
        thread,
        role,
        content_blocks(body.get("content")),
        t,
        attachments=body.get("attachments") or [],
        metadata=body.get("metadata"),
    )


def assistant_reply(storage: Storage, run: Run, t: float, *, incomplete: bool) -> None:
    """The run's reply: a message-creation step and a message, created, streamed and ended."""
    text = run.script.reply
    if text is None:
        text = f"根据计算结果：{run.outputs[-1]}" if run.outputs else PLAIN_REPLY
    message = new_message(storage, run.thread, "assistant", [], t, run=run)
    step = new_step(
        storage,
        run,
        "message_creation",
        {"type": "message_creation", "message_creation": {"message_id": message["id"]}},
        t,
    )
    emit(run, "thread.message.created", message)
    emit(run, f"thread.message.{MESSAGE.initial}", message)
    block = {"type": "text", "text": {"value": text, "annotations": []}}
    emit(
        run,
        "thread.message.delta",
        {
            "id": message["id"],
            "object": "thread.message.delta",
            "delta": {"role": "assistant", "content": [{"index": 0, **block}]},
        },
    )
    message["content"] = [block]
    if incomplete:
        message["incomplete_details"] = {"reason": _MAX_TOKENS}
    trigger = Trigger.STOP_INCOMPLETE if incomplete else Trigger.COMPLETE
    dest = MESSAGE.fire(MESSAGE.initial, trigger).dest
    MESSAGE_FIELDS.enter(message, dest, t)
    emit(run, f"thread.message.{dest}", message)
    finish_step(run, step, Trigger.COMPLETE, t)
