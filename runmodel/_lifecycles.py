"""The Assistants API lifecycles (run, run step, message), as graded data.

The single source of truth for statuses and edges. Every fact carries its grade and sources
exactly as the project's evidence file gives them; where the evidence is thin, the grade says so.
Source names: ``docs:runs``, ``docs:function-calling``, ``spec`` (openai-openapi), ``sdk`` (the
openai Python SDK), issue/PR numbers in the named repositories, ``lesson`` (printed run objects
kept as a test fixture) and ``rec:<repository>/<recording>`` (real traffic recorded by another
project's tests, e.g. ``rec:openai-dotnet/FunctionToolsWork``).
"""

from __future__ import annotations

from typing import Final

from ._core import Actor, Edge, Evidence, Lifecycle, Status

__all__ = ["CANCELLING", "MESSAGE", "RUN", "STEP", "Trigger"]


class Trigger:
    """The trigger names of the Assistants lifecycles (run, run step, message): what a consumer
    fires (`Lifecycle.fire`) or recognises, named here once and used by the edges below."""

    CREATE: Final = "create"
    START: Final = "start"
    REQUIRE_ACTION: Final = "require_action"
    SUBMIT_TOOL_OUTPUTS: Final = "submit_tool_outputs"
    """The client's answer to requires_action (``POST …/submit_tool_outputs``)."""
    COMPLETE: Final = "complete"
    HIT_TOKEN_LIMIT: Final = "hit_token_limit"
    FAIL: Final = "fail"
    EXPIRE: Final = "expire"
    """The clock's move: a run or step outlived ``expires_at``."""
    CANCEL: Final = "cancel"
    """The client's cancel of a run (``POST …/cancel``); a step's cancel with its run."""
    FINISH_CANCEL: Final = "finish_cancel"
    STOP_INCOMPLETE: Final = "stop_incomplete"


SERVER, CLIENT, CLOCK = Actor.SERVER, Actor.CLIENT, Actor.CLOCK


_ev = Evidence.of


def _edge(source: str, dest: str, trigger: str, actor: Actor, ev: Evidence) -> Edge:
    return Edge(source, dest, trigger, actor, ev)


RUN = Lifecycle(
    "run",
    statuses=[
        Status(
            "queued",
            "created, or tool outputs just submitted; waiting to be picked up",
            _ev("D", "docs:runs", "sdk", "spec"),
        ),
        Status(
            "in_progress",
            "the model and tools are working; progress shows in run steps",
            _ev("D", "docs:runs", "sdk", "spec"),
        ),
        Status(
            "requires_action",
            "function calls chosen; outputs must be submitted before expires_at",
            _ev("D", "docs:runs", "sdk", "spec"),
        ),
        Status(
            "cancelling",
            "cancellation requested; attempted but not guaranteed",
            _ev("D", "docs:runs", "sdk", "spec"),
        ),
        Status("cancelled", "cancelled", _ev("D", "docs:runs", "sdk", "spec"), terminal=True),
        Status(
            "failed",
            "ended with last_error (server_error, rate_limit_exceeded, invalid_prompt)",
            _ev("D", "docs:runs", "sdk", "spec"),
            terminal=True,
        ),
        Status(
            "completed", "ended successfully", _ev("D", "docs:runs", "sdk", "spec"), terminal=True
        ),
        Status(
            "incomplete",
            "ended at max_prompt_tokens / max_completion_tokens",
            _ev("D/O", "docs:runs", "sdk", "openai-python#1407"),
            terminal=True,
        ),
        Status(
            "expired",
            "outputs not submitted, or the run outlived expires_at",
            _ev("D", "docs:runs", "sdk", "spec"),
            terminal=True,
        ),
    ],
    initial="queued",
    api_object="thread.run",
    created_by=_edge(
        "",
        "queued",
        Trigger.CREATE,
        CLIENT,
        _ev(
            "D",
            "docs:runs",
            "spec",
            note="create returns queued; streams begin thread.run.created, thread.run.queued",
        ),
    ),
    edges=[
        # documented and observed: the strict model
        _edge("queued", "in_progress", Trigger.START, SERVER, _ev("D", "docs:runs", "spec")),
        _edge("in_progress", "completed", Trigger.COMPLETE, SERVER, _ev("D", "docs:runs", "spec")),
        _edge(
            "in_progress",
            "requires_action",
            Trigger.REQUIRE_ACTION,
            SERVER,
            _ev(
                "D/O",
                "docs:runs",
                "docs:function-calling",
                "xef#718",
                "astra-assistants-api#71",
                note="several rounds in one run: requires_action → queued → … → requires_action",
            ),
        ),
        _edge(
            "in_progress",
            "incomplete",
            Trigger.HIT_TOKEN_LIMIT,
            SERVER,
            _ev("D/O", "docs:runs", "openai-python#1407"),
        ),
        _edge("in_progress", "failed", Trigger.FAIL, SERVER, _ev("D", "docs:runs", "spec")),
        _edge(
            "requires_action",
            "queued",
            Trigger.SUBMIT_TOOL_OUTPUTS,
            CLIENT,
            _ev(
                "D",
                "docs:runs",
                "spec",
                note='"moved to a queued status"; requires_action → in_progress is NOT documented',
            ),
        ),
        _edge(
            "requires_action",
            "expired",
            Trigger.EXPIRE,
            CLOCK,
            _ev("D", "docs:runs", note='Runs in status "expired" do not accept tool outputs.'),
        ),
        _edge(
            "in_progress",
            "expired",
            Trigger.EXPIRE,
            CLOCK,
            _ev("D/O", "docs:runs", "semantic-kernel#5449"),
        ),
        _edge("in_progress", "cancelling", Trigger.CANCEL, CLIENT, _ev("D", "docs:runs", "spec")),
        _edge(
            "cancelling", "cancelled", Trigger.FINISH_CANCEL, SERVER, _ev("D", "docs:runs", "spec")
        ),
        # inferred and disputed: admitted only at the permissive level
        _edge(
            "queued",
            "cancelling",
            Trigger.CANCEL,
            CLIENT,
            _ev(
                "I",
                "spec",
                note='reference says "cancels a run that is in_progress"; users cancel queued runs',
            ),
        ),
        _edge(
            "requires_action",
            "cancelling",
            Trigger.CANCEL,
            CLIENT,
            _ev("X/I", "docs:runs", note="not documented; clients do it"),
        ),
        _edge(
            "cancelling",
            "completed",
            Trigger.COMPLETE,
            SERVER,
            _ev(
                "I/X",
                "docs:runs",
                "sdk",
                note='cancellation "attempted but not guaranteed"; SDK pollers keep polling',
            ),
        ),
        _edge(
            "cancelling",
            "failed",
            Trigger.FAIL,
            SERVER,
            _ev("I/X", "docs:runs", "sdk", note='cancellation "attempted but not guaranteed"'),
        ),
        _edge(
            "cancelling",
            "expired",
            Trigger.EXPIRE,
            CLOCK,
            _ev("I/X", "docs:runs", "sdk", note='cancellation "attempted but not guaranteed"'),
        ),
        _edge(
            "queued",
            "failed",
            Trigger.FAIL,
            SERVER,
            _ev("I", "docs:runs", note="every failed sample seen has started_at set"),
        ),
        _edge("queued", "expired", Trigger.EXPIRE, CLOCK, _ev("I", "docs:runs")),
    ],
    also_settled=["requires_action"],  # exactly the set the SDK's runs.poll returns on
)


STEP = Lifecycle(
    "run_step",
    statuses=[
        Status(
            "in_progress",
            "the step is working; a function step stays here while its run requires action",
            _ev("D", "sdk", "spec"),
        ),
        Status("cancelled", "cancelled with its run", _ev("D", "sdk", "spec"), terminal=True),
        Status("failed", "failed, with last_error", _ev("D", "sdk", "spec"), terminal=True),
        Status("completed", "finished", _ev("D", "sdk", "spec"), terminal=True),
        Status("expired", "its run expired", _ev("D", "sdk", "spec", "docs:runs"), terminal=True),
    ],
    initial="in_progress",
    api_object="thread.run.step",
    created_by=_edge(
        "",
        "in_progress",
        Trigger.CREATE,
        SERVER,
        _ev("D", "spec", note="stream: thread.run.step.created → thread.run.step.in_progress"),
    ),
    edges=[
        _edge(
            "in_progress",
            "completed",
            Trigger.COMPLETE,
            SERVER,
            _ev(
                "D",
                "spec",
                "sdk",
                note="a function step completes right after the outputs are submitted",
            ),
        ),
        _edge("in_progress", "failed", Trigger.FAIL, SERVER, _ev("D", "spec", "sdk")),
        _edge(
            "in_progress",
            "cancelled",
            Trigger.CANCEL,
            SERVER,
            _ev("D", "spec", "sdk", note='statuses have "the same meaning as run statuses"'),
        ),
        _edge(
            "in_progress",
            "expired",
            Trigger.EXPIRE,
            CLOCK,
            _ev("D", "docs:runs", "sdk", note="a step is expired if its run expired"),
        ),
    ],
)


MESSAGE = Lifecycle(
    "message",
    statuses=[
        Status("in_progress", "being written by the assistant", _ev("D", "sdk", "spec")),
        Status(
            "incomplete",
            "ended early; incomplete_details.reason says why",
            _ev("D", "sdk", "spec"),
            terminal=True,
        ),
        Status("completed", "finished", _ev("D", "sdk", "spec"), terminal=True),
    ],
    initial="in_progress",
    api_object="thread.message",
    created_by=_edge(
        "",
        "in_progress",
        Trigger.CREATE,
        SERVER,
        _ev(
            "D",
            "spec",
            note="stream: thread.message.created → thread.message.in_progress; "
            "user-created messages often come back with status null (observed)",
        ),
    ),
    edges=[
        _edge("in_progress", "completed", Trigger.COMPLETE, SERVER, _ev("D", "spec", "sdk")),
        _edge(
            "in_progress",
            "incomplete",
            Trigger.STOP_INCOMPLETE,
            SERVER,
            _ev(
                "D",
                "spec",
                "sdk",
                note="reason ∈ content_filter, max_tokens, run_cancelled, run_expired, run_failed",
            ),
        ),
    ],
)


CANCELLING = RUN.target(Trigger.CANCEL)
"""The status a cancelled run is in until the server ends it (``cancelling``)."""
