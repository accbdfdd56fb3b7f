"""The documented error replies: one wording, formatted and parsed back exactly."""

from __future__ import annotations

import re
import time

import openai
import pytest

from conformance.check import RunChecked, Severity, check
from conformance.emulator import Emulator
from conformance.errors import (
    ERROR_EVIDENCE,
    ERROR_TEMPLATES,
    error_body,
    format_call_ids,
    format_error,
    parse_error,
)
from runmodel import Strictness

FIELDS = {
    "status": "expired",
    "thread_id": "thread_abc",
    "run_id": "run_abc",
    "expected": format_call_ids(["call_a", "call_b"]),
    "got": format_call_ids(["call_a"]),
}


@pytest.mark.parametrize("kind", sorted(ERROR_TEMPLATES))
def test_format_and_parse_round_trip(kind: str) -> None:
    names = re.findall(r"\{(\w+)\}", ERROR_TEMPLATES[kind])
    fields = {n: FIELDS[n] for n in names}
    text = format_error(kind, **fields)
    assert "{" not in text
    assert parse_error(kind, text) == fields
    assert parse_error(kind, text + " (and more)") is None
    assert kind in ERROR_EVIDENCE


def test_the_texts_seen_from_the_api() -> None:
    assert format_error("submit_not_accepted", status="expired") == (
        'Runs in status "expired" do not accept tool outputs.'
    )
    # as a real reply printed it (call ids as a Python list repr)
    seen = (
        "Expected tool outputs for call_ids ['call_SLVC6oRoltVMv3qbxqN8mvOy', "
        "'call_xcDL9fuPVAJRDwkoTjv5r75A'], got ['call_SLVC6oRoltVMv3qbxqN8mvOy']"
    )
    expected = format_call_ids(["call_SLVC6oRoltVMv3qbxqN8mvOy", "call_xcDL9fuPVAJRDwkoTjv5r75A"])
    got = format_call_ids(["call_SLVC6oRoltVMv3qbxqN8mvOy"])
    assert format_error("tool_outputs_mismatch", expected=expected, got=got) == seen


def test_error_body_shape() -> None:
    body = error_body("cancel_not_allowed", status="completed")
    assert body == {
        "error": {
            "message": "Cannot cancel run with status 'completed'.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }


def test_a_cancel_raced_by_requires_action_is_fine_at_strict() -> None:
    """The client saw in_progress and cancelled; meanwhile the run asked for outputs. At strict
    requires_action refuses a cancel, so the documented 400 naming it is the right answer."""
    emu = Emulator()
    thread_id, run_id = emu.start_run("start+1, require_action(1)+1, start+1, complete+1")
    client = emu.client(max_retries=0)
    with emu.virtual_time():
        time.sleep(1.5)
        seen = client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)
        assert seen.status == "in_progress"
        time.sleep(1)  # the run now requires action
        with pytest.raises(openai.BadRequestError):
            client.beta.threads.runs.cancel(run_id, thread_id=thread_id)
    errors = [
        v.code
        for event in check(emu.items(), Strictness.STRICT)
        if isinstance(event, RunChecked)
        for v in event.result.violations
        if v.severity is Severity.ERROR
    ]
    assert errors == []
