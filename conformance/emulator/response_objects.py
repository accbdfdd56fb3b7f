"""What a response is made of on the wire: the ``response`` object, its output items, its input
items, its usage, the stream events a move emits, and the error replies of the Responses API.

Shapes follow the installed SDKs' models (``openai/types/responses``): every field their
``Response``, output items and ``ResponseStreamEvent`` types require, on openai 1.x, 2.x and 3.x.
Which fields a status nulls or sets is not decided here but by the model (`fields.FieldSetter`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .apierror import ApiError

__all__ = [
    "USAGE",
    "function_call_item",
    "input_items",
    "message_item",
    "response_error",
    "response_object",
    "stream_item_events",
]

_Obj = dict[str, Any]

USAGE: Mapping[str, Any] = {
    "input_tokens": 36,
    "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
    "output_tokens": 87,
    "output_tokens_details": {"reasoning_tokens": 0},
    "total_tokens": 123,
}
"""The usage a response that produced output reports."""


def response_error(
    status: int,
    message: str,
    *,
    param: str | None = None,
    code: str | None = None,
    kind: str = "invalid_request_error",
) -> ApiError:
    """An OpenAI-style error reply of the Responses API."""
    body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    return ApiError(status, body)


def response_object(rid: str, body: Mapping[str, Any], t: float, status: str) -> _Obj:
    """A new response object from a create body (every field the SDKs' ``Response`` requires,
    and the usual optional ones, null until the model's field rules set them)."""
    return {
        "id": rid,
        "object": "response",
        "created_at": int(t),
        "status": status,
        "background": bool(body.get("background")),
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": body["model"],
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": None,
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": list(body.get("tools") or []),
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation") or "disabled",
        "usage": None,
        "user": body.get("user"),
    }


def message_item(mid: str, text: str, status: str = "completed") -> _Obj:
    """An assistant ``message`` output item holding `text`."""
    part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
    return {
        "id": mid,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": [part],
    }


def function_call_item(fid: str, call_id: str, name: str, arguments: str) -> _Obj:
    """A ``function_call`` output item for the client to answer in its next response."""
    return {
        "id": fid,
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": "completed",
    }


def input_items(given: Any, new_id: Callable[[str], str]) -> list[_Obj]:
    """The create body's ``input`` as the stored input items ``input_items`` lists: a string is
    one user message; messages get ids and ``input_text`` parts; other items keep their
    fields with an id and a status."""
    if given is None:
        return []
    if isinstance(given, str):
        given = [{"role": "user", "content": given}]
    if not isinstance(given, list):
        raise response_error(400, "Invalid 'input': expected a string or an array.", param="input")
    out: list[_Obj] = []
    for index, item in enumerate(given):
        if not isinstance(item, Mapping):
            raise response_error(
                400, f"Invalid 'input[{index}]': expected an object.", param=f"input[{index}]"
            )
        kind = item.get("type", "message")
        if kind == "message":
            content = item.get("content")
            parts = (
                [{"type": "input_text", "text": content}]
                if isinstance(content, str)
                else list(content or [])
            )
            out.append(
                {
                    "id": new_id("msg"),
                    "type": "message",
                    "role": item.get("role", "user"),
                    "status": "completed",
                    "content": parts,
                }
            )
        else:
            prefix = "fc" if kind == "function_call" else "item"
            out.append({"status": "completed", **item, "id": item.get("id") or new_id(prefix)})
    return out


def _chunks(text: str) -> list[str]:
    words = text.split(" ")
    half = max(1, len(words) // 2)
    first, second = " ".join(words[:half]), " ".join(words[half:])
    return [first, " " + second] if second else [first]


def stream_item_events(index: int, item: Mapping[str, Any]) -> list[tuple[str, _Obj]]:
    """The stream events that add output item `item` at `index` (without sequence numbers):
    added, its content or arguments in deltas, done."""
    iid = item["id"]
    at = {"output_index": index, "item_id": iid}
    events: list[tuple[str, _Obj]] = []
    if item["type"] == "message":
        opening = {**item, "status": "in_progress", "content": []}
        events.append(("response.output_item.added", {"output_index": index, "item": opening}))
        part = item["content"][0]
        empty = {**part, "text": ""}
        events.append(("response.content_part.added", {**at, "content_index": 0, "part": empty}))
        for delta in _chunks(part["text"]):
            events.append(
                (
                    "response.output_text.delta",
                    {**at, "content_index": 0, "delta": delta, "logprobs": []},
                )
            )
        events.append(
            (
                "response.output_text.done",
                {**at, "content_index": 0, "text": part["text"], "logprobs": []},
            )
        )
        events.append(("response.content_part.done", {**at, "content_index": 0, "part": part}))
    else:
        opening = {**item, "status": "in_progress", "arguments": ""}
        events.append(("response.output_item.added", {"output_index": index, "item": opening}))
        args = item["arguments"]
        events.append(("response.function_call_arguments.delta", {**at, "delta": args}))
        events.append(
            (
                "response.function_call_arguments.done",
                {**at, "arguments": args, "name": item["name"]},
            )
        )
    events.append(("response.output_item.done", {"output_index": index, "item": dict(item)}))
    return events
