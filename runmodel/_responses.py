"""The Responses API in background mode (``POST /v1/responses`` with ``background=true``), as
graded data: importing this module adds the ``response`` lifecycle to the model.

Every fact carries the grade and sources of `docs/responses-evidence.md`, and names the fact's
id there (``RB-E4``) among its sources. Source names: ``guide`` (the background-mode guide),
``guide-l10n`` (its localised copies), ``spec`` (openai-openapi), ``sdk`` (the openai Python
SDK), ``rec:<test>`` (a real recording in ``tests/fixtures/responses/real``), ``af-adr-0009``
(the draft of microsoft/agent-framework's design record 0009 on long-running operations, with its
authors' calls to the live API and their answers), issue and PR numbers in the named
repositories.
"""

from __future__ import annotations

from typing import Final

from . import _rules  # noqa: F401 - the Assistants lifecycles register, and are listed, first
from ._core import Actor, Edge, Evidence, Lifecycle, Status
from ._registry import register
from .fields import Absent, Fact, FieldRule, FieldValues, Immutable, Ordered, Present

__all__ = ["RESPONSE", "ResponseTrigger"]


class ResponseTrigger:
    """The trigger names of the ``response`` lifecycle, named once (the moves it shares with a
    run carry the same names: ``start``, ``complete``, ``fail``, ``cancel``)."""

    CREATE: Final = "create"
    """``POST /v1/responses``; with ``background=true`` the reply is ``queued``."""
    START: Final = "start"
    COMPLETE: Final = "complete"
    """The model finished, possibly with ``function_call`` items for the client to answer."""
    FAIL: Final = "fail"
    STOP_INCOMPLETE: Final = "stop_incomplete"
    """Stopped at ``max_output_tokens`` or by the content filter."""
    CANCEL: Final = "cancel"
    """``POST /v1/responses/{id}/cancel``: background responses only."""


_ev = Evidence.of
SERVER, CLIENT = Actor.SERVER, Actor.CLIENT
_STATUS = ("D", "RB-S1", "RB-S2", "spec", "sdk")
_FINAL = (*_STATUS[:3], "RB-E9", *_STATUS[3:])  # and nothing documented leaves it


def _edge(source: str, dest: str, trigger: str, actor: Actor, ev: Evidence) -> Edge:
    return Edge(source, dest, trigger, actor, ev)


RESPONSE = Lifecycle(
    "response",
    statuses=[
        Status("queued", "created in background mode; waiting to be picked up", _ev(*_STATUS)),
        Status("in_progress", "the model is generating", _ev(*_STATUS)),
        Status(
            "completed",
            "ended; output holds the message and any function_call items to answer",
            _ev(*_FINAL),
            terminal=True,
        ),
        Status("failed", "ended with error {code, message}", _ev(*_FINAL), terminal=True),
        Status(
            "incomplete",
            "ended early; incomplete_details.reason says why",
            _ev(*_FINAL),
            terminal=True,
        ),
        Status(
            "cancelled",
            "cancelled by the client (background responses only)",
            _ev(*_FINAL, note="terminal: the guide polls while queued or in_progress (RB-S2)"),
            terminal=True,
        ),
    ],
    initial="queued",
    api_object="response",
    created_by=_edge(
        "",
        "queued",
        ResponseTrigger.CREATE,
        CLIENT,
        _ev(
            "D/O",
            "RB-E1",
            "RB-S6",
            "guide",
            "spec",
            "rec:CanCancelBackgroundResponses",
            "rec:CanUseStreamingBackgroundResponses",
            "rec:test_background_mode_vcr",
            note="a background create answers queued (every create seen did); a foreground one "
            "answers when it ends, so its first status seen is in_progress (streamed) or terminal",
        ),
    ),
    edges=[
        _edge(
            "queued",
            "in_progress",
            ResponseTrigger.START,
            SERVER,
            _ev(
                "D/O",
                "RB-E2",
                "guide",
                "rec:CanUseStreamingBackgroundResponses",
                "rec:test_background_mode_vcr",
            ),
        ),
        _edge(
            "in_progress",
            "completed",
            ResponseTrigger.COMPLETE,
            SERVER,
            _ev(
                "D/O",
                "RB-E3",
                "spec",
                "rec:CanUseStreamingBackgroundResponses",
                "rec:test_background_mode_vcr",
            ),
        ),
        _edge("in_progress", "failed", ResponseTrigger.FAIL, SERVER, _ev("D", "RB-E3", "spec")),
        _edge(
            "in_progress",
            "incomplete",
            ResponseTrigger.STOP_INCOMPLETE,
            SERVER,
            _ev("D", "RB-E3", "spec"),
        ),
        _edge(
            "in_progress",
            "cancelled",
            ResponseTrigger.CANCEL,
            CLIENT,
            _ev("D", "RB-E4", "guide", "spec", note='"cancel an in-flight response"'),
        ),
        _edge(
            "queued",
            "cancelled",
            ResponseTrigger.CANCEL,
            CLIENT,
            _ev(
                "D/O",
                "RB-E4",
                "RB-E10",
                "guide",
                "rec:CanCancelBackgroundResponses",
                "rec:CanCancelBackgroundResponsesAsync",
                note="documented for an in-flight response; seen: a cancel right after a "
                "background create answers 200 cancelled",
            ),
        ),
        # inferred and disputed: admitted only at the permissive level
        _edge(
            "queued",
            "failed",
            ResponseTrigger.FAIL,
            SERVER,
            _ev("I", "RB-E5", note="the docs allow it; no sample shows it"),
        ),
        _edge(
            "cancelled",
            "completed",
            ResponseTrigger.COMPLETE,
            SERVER,
            _ev(
                "X",
                "RB-E8",
                "RB-E11",
                "RB-C6",
                "ms-learn-qa#2339607",
                "openai-python#2643",
                "af-adr-0009",
                note="Azure, then OpenAI: read cancelled, then completed later (the stream went "
                "on to response.completed); cancel is best effort",
            ),
        ),
    ],
)

_ALL = frozenset(RESPONSE.statuses)


def _s(*names: str) -> frozenset[str]:
    return frozenset(names)


_RULES: list[FieldRule] = [
    Present(
        "response.completed_at.set",
        "response",
        "completed_at is set in completed",
        _ev(
            "D/O",
            "RB-F1",
            "RB-F15",
            "spec",
            "sdk",
            "rec:test_background_mode_vcr",
            note="responses recorded in 2025 carry no completed_at key at all (RB-F13)",
        ),
        ("completed_at",),
        _s("completed"),
    ),
    Absent(
        "response.completed_at.null",
        "response",
        "completed_at is null outside completed",
        _ev(
            "D/O",
            "RB-F1",
            "RB-F15",
            "spec",
            "sdk",
            "rec:test_background_mode_vcr",
            note='"Only present when the status is completed"',
        ),
        ("completed_at",),
        _ALL - {"completed"},
    ),
    Present(
        "response.error.set",
        "response",
        "error is set in failed",
        _ev("D", "RB-F2", "spec"),
        ("error",),
        _s("failed"),
    ),
    Absent(
        "response.error.null",
        "response",
        "error is null outside failed",
        _ev(
            "O/I",
            "RB-F10",
            "RB-F12",
            "rec:CanUseStreamingBackgroundResponses",
            "rec:FunctionCallWorks",
            "rec:MaxTokens",
            note="only the set side is documented; null in every other status seen",
        ),
        ("error",),
        _ALL - {"failed"},
    ),
    Present(
        "response.incomplete_details.set",
        "response",
        "incomplete_details is set in incomplete",
        _ev("D/O", "RB-F4", "spec", "rec:MaxTokens"),
        ("incomplete_details",),
        _s("incomplete"),
    ),
    Absent(
        "response.incomplete_details.null",
        "response",
        "incomplete_details is null outside incomplete",
        _ev(
            "O/I",
            "RB-F10",
            "RB-F12",
            "rec:CanUseStreamingBackgroundResponses",
            "rec:CanCancelBackgroundResponses",
            "rec:FunctionCallWorks",
            note="only the set side is documented; null in every other status seen",
        ),
        ("incomplete_details",),
        _ALL - {"incomplete"},
    ),
    Present(
        "response.output.set",
        "response",
        "output is an array in every status ([] while queued)",
        _ev("D/O", "RB-F6", "spec", "litellm#19899", "rec:CanCancelBackgroundResponses"),
        ("output",),
        _ALL,
    ),
    Absent(
        "response.usage.queued",
        "response",
        "usage is null while queued",
        _ev("O", "RB-F8", "litellm#19899", "rec:CanCancelBackgroundResponses"),
        ("usage",),
        _s("queued"),
    ),
    Present(
        "response.usage.completed",
        "response",
        "usage is set in completed",
        _ev(
            "D/O",
            "RB-F7",
            "RB-F12",
            "spec",
            "rec:CanUseStreamingBackgroundResponses",
            "rec:FunctionCallWorks",
            note="set in the spec's completed example and in every completed response seen",
        ),
        ("usage",),
        _s("completed"),
    ),
    Ordered(
        "response.times.ordered",
        "response",
        "created_at ≤ completed_at",
        _ev("I", "RB-F1", note="follows from their meaning; not stated"),
        ("created_at", "completed_at"),
    ),
    *(
        Immutable(
            f"response.{f}.immutable",
            "response",
            f"{f} never changes",
            _ev("D", "RB-F11", "sdk", note='"Lifecycle response identity changed."'),
            (f,),
        )
        for f in ("id", "created_at", "model", "background")
    ),
]

_VALUES = (
    FieldValues(
        "response.error.code",
        (
            "server_error",
            "rate_limit_exceeded",
            "invalid_prompt",
            "data_residency_mismatch",
            "bio_policy",
            "vector_store_timeout",
            "invalid_image",
            "invalid_image_format",
            "invalid_base64_image",
            "invalid_image_url",
            "image_too_large",
            "image_too_small",
            "image_parse_error",
            "image_content_policy_violation",
            "invalid_image_mode",
            "image_file_too_large",
            "unsupported_image_media_type",
            "empty_image_file",
            "failed_to_download_image",
            "image_file_not_found",
        ),
        _ev("D", "RB-F2", "spec", note="the SDK adds misalignment_policy_violation (RB-F3, X)"),
    ),
    FieldValues(
        "response.incomplete_details.reason",
        ("max_output_tokens", "content_filter"),
        _ev("D", "RB-F4", "spec", note="the SDK adds max_messages and steered (RB-F5, X)"),
    ),
)


def _fact(code: str, summary: str, ev: Evidence) -> Fact:
    return Fact(f"response.{code}", "response", summary, ev)


_FACTS = (
    # the stream (create with stream=true; GET ?stream=true&starting_after=N resumes it)
    _fact(
        "stream.sequence_number",
        "every stream event carries an integer sequence_number",
        _ev("D", "RB-ST1", "spec"),
    ),
    _fact(
        "stream.increasing",
        "sequence numbers rise within a stream and across its resumptions: none repeats",
        _ev("D", "RB-ST7", "guide", "spec", note="the client resumes from the last one it saw"),
    ),
    _fact(
        "stream.no_gap",
        "sequence numbers rise by exactly one",
        _ev(
            "O/I",
            "RB-ST6",
            "rec:CanUseStreamingBackgroundResponses",
            "rec:test_background_mode_streaming_starting_after_vcr",
            note="seen 0…17 and 0…16, and resumed, 3…17 and 1…16; the step is not stated",
        ),
    ),
    _fact(
        "stream.starts_at_zero",
        "a stream's first event (response.created) has sequence_number 0",
        _ev(
            "O",
            "RB-ST4",
            "RB-ST6",
            "Azure/azure-dev#9704",
            "rec:CanUseStreamingBackgroundResponses",
            "rec:test_background_mode_streaming_starting_after_vcr",
        ),
    ),
    _fact(
        "stream.resume_suffix",
        "a resumed stream (starting_after=N) sends only the events after N",
        _ev(
            "O",
            "RB-ST10",
            "openai-node#1984",
            "rec:CanUseStreamingBackgroundResponses",
            "rec:test_background_mode_streaming_starting_after_vcr",
        ),
    ),
    _fact(
        "stream.replay_history",
        "a resumed stream replays the stored events after N as first sent, lifecycle events "
        "included: their statuses are the response's past, not moves",
        _ev(
            "O",
            "RB-ST20",
            "rec:test_background_mode_streaming_starting_after_vcr",
            note="resumed after the end, it replays queued, in_progress, completed again",
        ),
    ),
    _fact(
        "stream.opening",
        "a stream opens with response.created, then response.queued (background) — the two "
        "may come in either order",
        _ev(
            "O/X",
            "RB-ST4",
            "RB-ST5",
            "docs.mka1.com",
            "rec:CanUseStreamingBackgroundResponses",
            "rec:test_background_mode_streaming_starting_after_vcr",
            note="OpenAI sends created (0) then queued (1); one other server documents the reverse",
        ),
    ),
    _fact(
        "stream.event_status",
        "a lifecycle event (response.queued, .in_progress, .completed, .failed, .incomplete) "
        "carries a response in the status it names",
        _ev("D", "RB-ST2", "RB-ST3", "spec"),
    ),
    _fact(
        "stream.one_terminal",
        "a stream ends with one terminal event, and nothing of the response follows it",
        _ev("D/O", "RB-ST2", "RB-ST4", "spec"),
    ),
    _fact(
        "stream.no_cancelled_event",
        "there is no response.cancelled stream event: a stream never announces a cancel",
        _ev(
            "D",
            "RB-ST2",
            "spec",
            note="on OpenAI an open stream went on after a cancel, to response.completed (RB-E11)",
        ),
    ),
    _fact(
        "stream.replay_window",
        "a stream can be resumed for about 5 minutes after its creation",
        _ev(
            "O",
            "RB-ST9",
            "openai-python#2828",
            "af-adr-0009",
            note="400 'can no longer be streamed … more than 5 minutes old'; store=true does not "
            "lengthen it",
        ),
    ),
    _fact(
        "stream.background_only",
        "only a background response's stream can be resumed; a foreground one answers an error",
        _ev(
            "D/O",
            "RB-ST7",
            "RB-ST8",
            "RB-ST19",
            "guide",
            "community.openai.com/t/1362217",
            "af-adr-0009",
            note="seen as 404 'not found' and as 400 'not created with background=true'",
        ),
    ),
    _fact(
        "stream.needs_stream",
        "a background response's stream can be opened again only if it was created with "
        "stream=true",
        _ev("D", "RB-ST17", "guide", note="the guide's Limits, item 3"),
    ),
    _fact(
        "stream.keepalive",
        "a background stream may carry keepalive events (type keepalive, with a "
        "sequence_number) that neither the spec nor the SDK lists; a consumer skips them",
        _ev("O", "RB-ST18", "litellm#39617", note="about one every 30 s while the response waits"),
    ),
    # cancel
    _fact(
        "cancel.background_only",
        "only a response created with background=true can be cancelled; another answers an error",
        _ev(
            "D/O",
            "RB-C1",
            "RB-C5",
            "spec",
            "sdk",
            "af-adr-0009",
            note="seen: 'Cannot cancel a synchronous response'; the status code is not documented",
        ),
    ),
    _fact(
        "cancel.idempotent",
        "cancelling a cancelled response answers 200 with it unchanged",
        _ev("D", "RB-C3", "guide"),
    ),
    _fact(
        "cancel.finished",
        "cancelling a completed, failed or incomplete response leaves it unchanged; the reply is "
        "200 with it, or an error",
        _ev(
            "X",
            "RB-C4",
            "af-adr-0009",
            "litellm#39617",
            "sglang#38087",
            "ogx#5268",
            note="OpenAI seen answering both 200 completed and 400 'Cannot cancel a completed "
            "response.'; ogx answers 409",
        ),
    ),
    _fact(
        "cancel.race",
        "a cancel that races the end answers the final response, whatever status won",
        _ev("I", "RB-C8", "RB-C3"),
    ),
    # polling
    _fact(
        "poll.while_active",
        "poll while queued or in_progress; any other status is final",
        _ev(
            "D",
            "RB-S2",
            "RB-P2",
            "guide",
            note="the guide polls every 2 s; seen: queued, in_progress, completed by polls",
        ),
    ),
    _fact(
        "poll.retention",
        "a background response is kept for about 10 minutes to be polled",
        _ev("D", "RB-R1", "RB-R2", "guide", "guide-l10n"),
    ),
    # function-call rounds
    _fact(
        "round.chain",
        "a function round's answer is a new response that points at the one that asked "
        "(previous_response_id) or repeats its function_call items in its input",
        _ev(
            "D/O",
            "RB-T2",
            "RB-T8",
            "RB-T9",
            "spec",
            "rec:FunctionCallWorks",
            "rec:test_background_mode_with_tool_vcr",
            note="with store=false there is no parent to point at: the input repeats the call",
        ),
    ),
    _fact(
        "round.all_outputs",
        "the answer holds a function_call_output for every function_call call_id; a missing "
        "one answers 400 (param input)",
        _ev(
            "O",
            "RB-T4",
            "RB-T8",
            "RB-T9",
            "openai-agents-python#673",
            "tjardoo/openai-client#124",
            "rec:FunctionCallWorks",
            "rec:test_background_mode_with_tool_vcr",
        ),
    ),
    _fact(
        "round.no_orphans",
        "the answer holds no function_call_output for a call_id that was not asked",
        _ev("O", "RB-T5", "AgentTeams#299"),
    ),
    _fact(
        "round.parent_ended",
        "a function round is answered after the response that asked has completed",
        _ev("I", "RB-T3", note="no waiting status: the calls are final once completed"),
    ),
    _fact(
        "round.background_again",
        "each round is a new response: background must be set again on every round",
        _ev("I", "RB-T3"),
    ),
)


register(RESPONSE, _RULES, _VALUES, facts=_FACTS)
