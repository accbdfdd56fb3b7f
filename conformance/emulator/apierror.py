"""The emulator's error replies: an exception that carries one, built from `conformance.errors`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from conformance.errors import ERROR_REPLIES, error_body
from runmodel import RunmodelError

__all__ = ["KINDS", "ApiError", "not_found", "refuse"]

KINDS = {
    "asst": "assistant",
    "thread": "thread",
    "run": "run",
    "msg": "message",
    "step": "run step",
}
"""The kind of object a 404 names, by id prefix."""


class ApiError(RunmodelError):
    """An error reply: HTTP status and the OpenAI-style JSON body."""

    def __init__(
        self, status: int, body: Mapping[str, Any], headers: tuple[tuple[str, str], ...] = ()
    ):
        self.status = status
        self.body = body
        self.headers = headers
        super().__init__(f"{status}: {body['error']['message']}")


def refuse(kind: str, /, **fields: object) -> ApiError:
    """The error reply `kind` of `conformance.errors.ERROR_REPLIES`, placeholders filled."""
    return ApiError(ERROR_REPLIES[kind].status, error_body(kind, **fields))


def not_found(object_id: str) -> ApiError:
    """404 for an unknown id, named as the API names it."""
    return refuse("not_found", kind=KINDS.get(object_id.partition("_")[0], "object"), id=object_id)
