"""Every error reply the kit words, in one place, and the one function that builds their bodies.

The documented replies to illegal lifecycle actions (`ERROR_TEMPLATES`) are HTTP 400 with
``error.type == "invalid_request_error"`` and these exact texts (evidence §6); the checker
compares recorded replies with them. `ERROR_REPLIES` adds the other replies of the emulator
(unknown ids and URLs, bad requests, injected faults) and of the recording proxy. Whatever
answers like the API builds its bodies with `error_body`, so that every side shares one wording.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runmodel import Evidence, Grade

__all__ = [
    "ERROR_EVIDENCE",
    "ERROR_HTTP_STATUS",
    "ERROR_REPLIES",
    "ERROR_TEMPLATES",
    "ERROR_TYPE",
    "ErrorReply",
    "error_body",
    "format_call_ids",
    "format_error",
    "parse_error",
]

ERROR_HTTP_STATUS = 400
"""The HTTP status of every reply below (unknown ids answer 404 instead)."""

ERROR_TYPE = "invalid_request_error"
"""The ``error.type`` of every reply below."""

ERROR_TEMPLATES: Mapping[str, str] = {
    # submit_tool_outputs to a run that is not in requires_action
    "submit_not_accepted": 'Runs in status "{status}" do not accept tool outputs.',
    # cancel on a terminal or cancelling run
    "cancel_not_allowed": "Cannot cancel run with status '{status}'.",
    # POST /threads/{thread_id}/messages while a run on the thread is active
    "message_while_active": "Can't add messages to {thread_id} while a run {run_id} is active.",
    # POST /threads/{thread_id}/runs while a run on the thread is active
    "run_while_active": "Thread {thread_id} already has an active run {run_id}.",
    # tool outputs that do not name exactly the required call ids (lists as Python reprs)
    "tool_outputs_mismatch": "Expected tool outputs for call_ids {expected}, got {got}",
}
"""Each documented reply by kind; placeholders are filled by `format_error`."""

_D, _O = Grade.DOCUMENTED, Grade.OBSERVED
ERROR_EVIDENCE: Mapping[str, Evidence] = {
    "submit_not_accepted": Evidence((_D,), ("docs:runs",), 'quoted for "expired"; evidence §6'),
    "cancel_not_allowed": Evidence((_D,), ("docs:runs",), "terminal statuses absorb; evidence §6"),
    "message_while_active": Evidence(
        (_D,), ("docs:runs",), "while a run is not terminal the thread is locked; evidence §6"
    ),
    "run_while_active": Evidence(
        (_D,), ("docs:runs",), "while a run is not terminal the thread is locked; evidence §6"
    ),
    "tool_outputs_mismatch": Evidence(
        (_O,), ("evidence §6",), "observed reply text; all outputs of a round in one request"
    ),
}
"""The grade and sources of each reply (and of the rule it enforces)."""


@dataclass(frozen=True, slots=True)
class ErrorReply:
    """One error reply: its HTTP status and the ``message``, ``type``, ``code`` and ``param`` of
    its body (`message`, `code` and `param` may hold placeholders, filled by `error_body`)."""

    message: str
    status: int = ERROR_HTTP_STATUS
    type: str = ERROR_TYPE
    code: str | None = None
    param: str | None = None


_BETA_HEADER = (
    "You must provide the 'OpenAI-Beta' header to access the Assistants API. "
    "Please try again by setting the header 'OpenAI-Beta: assistants=v2'."
)

ERROR_REPLIES: Mapping[str, ErrorReply] = {
    **{kind: ErrorReply(template) for kind, template in ERROR_TEMPLATES.items()},
    # the emulator's other replies, worded as the API words them
    "not_found": ErrorReply("No {kind} found with id '{id}'.", 404),
    "invalid_url": ErrorReply("Invalid URL ({method} {path})", 404),
    "beta_header": ErrorReply(_BETA_HEADER),
    "missing_param": ErrorReply("Missing required parameter: '{param}'.", param="{param}"),
    "invalid_body": ErrorReply("We could not parse the JSON body of your request."),
    "invalid_limit": ErrorReply(
        "Invalid 'limit': integer between 1 and 100 expected, got {limit!r}.", param="limit"
    ),
    "invalid_order": ErrorReply(
        "Invalid value for 'order': expected 'asc' or 'desc', got {order!r}.", param="order"
    ),
    "rate_limited": ErrorReply(
        "Rate limit reached for requests. Please try again in {seconds:g}s.",
        429,
        "requests",
        "rate_limit_exceeded",
    ),
    "server_error": ErrorReply(
        "The server had an error while processing your request. Sorry about that!",
        500,
        "server_error",
    ),
    # the recording proxy's own replies (``runmodel record``)
    "proxy_connect": ErrorReply(
        "runmodel record is a reverse proxy: CONNECT is refused", 405, code="not_a_proxy"
    ),
    "proxy_framing": ErrorReply("malformed request body framing", code="bad_request"),
    "proxy_absolute_url": ErrorReply(
        "runmodel record forwards only to {upstream}: absolute-URL request targets are refused",
        code="not_a_proxy",
    ),
    "proxy_outside_prefix": ErrorReply(
        "Invalid URL ({method} {path}): outside {prefix}/", 404, code="unknown_url"
    ),
    "proxy_unsendable": ErrorReply("cannot forward this request: {reason}", code="bad_request"),
    "upstream_unreachable": ErrorReply(
        "runmodel record: no response from {upstream}: {error}: {reason}",
        502,
        "server_error",
        "upstream_unreachable",
    ),
}
"""Every error reply by kind: the documented lifecycle replies above, then all the others."""

_FIELD = {
    "status": r"(?P<status>[A-Za-z_]+)",
    "thread_id": r"(?P<thread_id>\S+)",
    "run_id": r"(?P<run_id>\S+)",
    "expected": r"(?P<expected>\[.*?\])",
    "got": r"(?P<got>\[.*\])",
}


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", template)
    regex = "".join(_FIELD[p] if i % 2 else re.escape(p) for i, p in enumerate(parts))
    return re.compile(regex + r"\Z")


_PATTERNS = {kind: _pattern(t) for kind, t in ERROR_TEMPLATES.items()}


def format_call_ids(ids: Sequence[str]) -> str:
    """Call ids as the API lists them in its reply: a Python list repr, ``['call_a', 'call_b']``."""
    return repr(list(ids))


def format_error(kind: str, /, **fields: object) -> str:
    """The exact text of `kind`'s reply, placeholders filled (KeyError if one is missing)."""
    return ERROR_REPLIES[kind].message.format(**fields)


def error_body(kind: str, /, **fields: object) -> dict[str, Any]:
    """The whole JSON body of `kind`'s reply (see `ERROR_REPLIES`), as the API sends it."""
    reply = ERROR_REPLIES[kind]
    return {
        "error": {
            "message": reply.message.format(**fields),
            "type": reply.type,
            "param": None if reply.param is None else reply.param.format(**fields),
            "code": None if reply.code is None else reply.code.format(**fields),
        }
    }


def parse_error(kind: str, message: str) -> dict[str, str] | None:
    """The placeholder values if `message` has the shape of `kind`'s template, else None."""
    m = _PATTERNS[kind].match(message)
    return None if m is None else m.groupdict()
