"""The emulator's reply texts that are not among the documented 400s of `conformance.errors`.

One place for every other wording the emulator sends: unknown ids, unknown URLs, a missing
``OpenAI-Beta`` header, injected faults, and the ``last_error`` messages of failed runs.
"""

from __future__ import annotations

from typing import Any

NOT_FOUND = "No {kind} found with id '{id}'."
INVALID_URL = "Invalid URL ({method} {path})"
BETA_HEADER = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
    "Please try again by setting the header 'OpenAI-Beta: assistants=v2'."
)
MISSING_PARAM = "Missing required parameter: '{param}'."
INVALID_BODY = "We could not parse the JSON body of your request."
RATE_LIMITED = "Rate limit reached for requests. Please try again in {seconds:g}s."
SERVER_ERROR = "The server had an error while processing your request. Sorry about that!"

RUN_ERRORS = {
    "server_error": "Sorry, something went wrong.",
    "rate_limit_exceeded": (
        "You exceeded your current quota, please check your plan and billing details."
    ),
    "invalid_prompt": (
        "Invalid prompt: your prompt was flagged as potentially violating our usage policy."
    ),
}
"""``last_error.message`` of a failed run, by ``last_error.code``."""

# kind of object as the 404 message names it, by id prefix
KINDS = {
    "asst": "assistant",
    "thread": "thread",
    "run": "run",
    "msg": "message",
    "step": "run step",
}


def error(
    message: str,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
) -> dict[str, Any]:
    """An OpenAI-style error body."""
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
