"""Check recorded runs against the model: an engine that reads items and emits typed events.

`check(items)` (or a `Checker` fed item by item) consumes reader items
(`conformance.observations`) in observation order and emits `Event`s: `CheckStarted`;
`RunChecked` when a run's state is closed (a run seen again later is reported again; reporters
merge by run id); `ViolationFound` for findings that belong to no run; `CheckFinished` with the
`CheckSummary` and `Coverage`. `conformance.reports` renders them; ``runmodel check`` is the CLI.
Modules: `engine` (the `Checker`, a coordinator of parts), `moves` (status changes against the
model), `fields` (field rules), `links` (steps and messages against their run), `clock` (the
server's clock, expiry), `parts` (each lifecycle's own traffic, registered by lifecycle name:
`register_part`), `actions` (the Assistants run's part: the client's requests and the server's
replies), `streams` (its streaming protocol), `responses` (the response's part: cancels, streams
and function rounds, by the model's facts), `verdicts` (whether a client's action is legal:
`judge_action`, the one judgement the checker and the harness share), `findings` (where
findings go), `state` (what is kept per open run, step or message), `results` (what is
reported).

Violation codes (``<lc>`` is ``run``, ``run_step``, ``message`` or ``response``; a response is
tracked on its own, as a run is, and reported as one `RunResult` with ``lifecycle``
``response``). Severity *rule*, *edge* or
*link* means: error when that fact's evidence is trusted (documented or observed), else warning.
Inferred and disputed edges are admitted only at the permissive level: at strict, a move or an
action that needs one is an error naming it (``needs``); `conformance.grading` lists every such
fact and how the checker and the emulator treat it.

- ``<lc>.illegal_transition`` (error): no path explains a status change at the strictness; when
  the permissive level would, ``needs`` names the untrusted edges it takes.
- ``<lc>.terminal_left`` (error): a terminal status was left.
- ``<lc>.moved_without_client`` (error): in recorded HTTP traffic, every explaining path needs a
  client request (e.g. submit_tool_outputs) that did not happen between the two observations.
- ``<lc>.field.<rule>`` (rule): a field rule of `runmodel.RULES` failed.
- ``run.expiry_not_honoured`` (edge): active well after ``expires_at``, by the server's clock
  where a reply's ``Date`` header showed it (the wall time plus the offset seen last in that
  file), else by the recorder's wall clock.
- ``status.unknown`` (warning): a status the model does not know; checking goes on.
- ``link.<link>`` (link): a step or message disagrees with its run (`runmodel.LINKS`); a
  warning when only the end of input shows it (the child was not seen again).
- ``client.submit_outside_requires_action``, ``client.submit_wrong_call_ids``,
  ``client.submit_partial``, ``client.cancel_illegal``, ``client.run_while_active``,
  ``client.message_while_active`` (error): the client did what the model forbids, judged by
  every status the run could be in unseen since the client last observed it.
- ``server.accepted_illegal`` (error): a 2xx reply to an action that no status reachable from
  the last observed one accepts.
- ``server.error_mismatch``: the reply to an illegal action is not the documented one (error:
  wrong HTTP status or error type, or a documented refusal of a legal action; warning: only
  the text differs, since clients should not parse it, or the refused action is legal only by
  inferred or disputed edges).
- ``stream.order``, ``stream.delta_before_created``, ``stream.after_done``,
  ``stream.event_mismatch`` (error); ``stream.unknown_event``, ``stream.unfinished`` (warning).
- ``response.stream.*``, ``response.cancel.*``, ``response.round.*`` (fact): a breach of the
  response lifecycle's protocol facts (`runmodel.FACTS`), judged by its part (`responses`):
  error when the fact is trusted, else warning; the round facts are the client's
  (`CLIENT_FACTS`), and a 2xx reply to a round lacking outputs is also
  ``server.accepted_illegal``.
- ``input.*`` (error): a reader's problems, passed through; ``input.unusable``: a file with
  nothing checkable, no run, run step or message and no request on one (exit code 2);
  ``input.unidentified_object``: an object without an id.
"""

from __future__ import annotations

from .actions import RunTraffic  # (importing it registers the Assistants run's part)
from .engine import EXPIRY_GRACE, MEMORY, WINDOW, Checker, check, edge_coverage
from .parts import Host, Part, PartFactory, register_part, unregister_part
from .responses import (  # (registers the response's part)
    CLIENT_FACTS,
    REPORTED_FACTS,
    ResponseTraffic,
)
from .results import (
    CheckFinished,
    CheckStarted,
    CheckSummary,
    Coverage,
    Event,
    RunChecked,
    RunResult,
    Severity,
    Violation,
    ViolationFound,
)
from .streams import STREAM_EVIDENCE
from .verdicts import (
    ACTIONS,
    CANCEL,
    CREATE_MESSAGE,
    CREATE_RUN,
    SUBMIT_TOOL_OUTPUTS,
    Judgement,
    Verdict,
    assess_action,
    judge_action,
    submitted_call_ids,
)

Summary = CheckSummary  # the name before CheckSummary, kept importable

__all__ = [
    "ACTIONS",
    "CANCEL",
    "CLIENT_FACTS",
    "CREATE_MESSAGE",
    "CREATE_RUN",
    "EXPIRY_GRACE",
    "MEMORY",
    "REPORTED_FACTS",
    "STREAM_EVIDENCE",
    "SUBMIT_TOOL_OUTPUTS",
    "WINDOW",
    "CheckFinished",
    "CheckStarted",
    "CheckSummary",
    "Checker",
    "Coverage",
    "Event",
    "Host",
    "Judgement",
    "Part",
    "PartFactory",
    "ResponseTraffic",
    "RunChecked",
    "RunResult",
    "RunTraffic",
    "Severity",
    "Verdict",
    "Violation",
    "ViolationFound",
    "assess_action",
    "check",
    "edge_coverage",
    "judge_action",
    "register_part",
    "submitted_call_ids",
    "unregister_part",
]
