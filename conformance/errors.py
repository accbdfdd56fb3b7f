"""The error replies the Assistants API gives to illegal lifecycle actions, in one place.

HTTP 400 with ``error.type == "invalid_request_error"`` and these exact texts (evidence §6). The
checker compares recorded replies with them; anything that answers like the API (an emulator)
formats its replies with `format_error` / `error_body` so that both sides share one wording.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from runmodel import Evidence, Grade

__all__ = [
    "ERROR_EVIDENCE",
    "ERROR_HTTP_STATUS",
    "ERROR_TEMPLATES",
    "ERROR_TYPE",
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


def format_error(kind: str, **fields: str) -> str:
    """The exact text of `kind`'s reply, placeholders filled (KeyError if one is missing)."""
    return ERROR_TEMPLATES[kind].format(**fields)


def error_body(kind: str, **fields: str) -> dict[str, Any]:
    """The whole JSON body of the reply, as the API sends it."""
    return {
        "error": {
            "message": format_error(kind, **fields),
            "type": ERROR_TYPE,
            "param": None,
            "code": None,
        }
    }


def parse_error(kind: str, message: str) -> dict[str, str] | None:
    """The placeholder values if `message` has the shape of `kind`'s template, else None."""
    m = _PATTERNS[kind].match(message)
    return None if m is None else m.groupdict()
