"""Property-test client code against the model: play it every legal lifecycle, report the smallest
that breaks each property.

`check_client(fn, contract=...)` is the one call a user's test makes. Hypothesis draws scenarios
from the model (`conformance.strategies`), the emulator plays each one to ``fn(client, thread_id,
run_id)`` (or, for an app that creates its own runs, ``fn(client, thread_id, assistant_id)``)
through the real ``openai`` SDK on a virtual clock, and the contract's properties are judged from
what the client did (every request and sleep) and what the server's runs did.

The parts: `search` (the search and the replays), `runner` (one lifecycle, played), `watch` (the
client followed while it runs), `watchdog` (the real-time budget), `verdicts` (the registry of
contracts, keyed by lifecycle and contract name), `run_contracts` (the run's contracts),
`results` (what a user gets back), `server` (what the harness needs of the emulator).

Background responses (the Responses API) have their own: `check_response_client(fn,
contract=...)` with the poller, stream and tool-loop contracts (`response_contracts`, registered
under the response lifecycle), played on the emulator by `response_runner` and searched by
`response_search` with the strategies of `conformance.response_strategies`.
"""

from __future__ import annotations

from .options import DEFAULT_ASSISTANT, FUTURE_STATUS, HANG_AFTER
from .response_contracts import RESPONSE_PROPERTIES
from .response_results import (
    ResponseCheckFailed,
    ResponseContract,
    ResponseCounterexample,
    ResponseSummary,
)
from .response_search import check_response_client, play_response
from .results import (
    Action,
    CannotCheck,
    CheckInterrupted,
    ClientBlocked,
    ClientCheckFailed,
    ClientHung,
    Contract,
    Counterexample,
    PolledTooFast,
    Progress,
    SearchSummary,
)
from .run_contracts import PROPERTIES
from .search import check_client, play, play_all

Summary = SearchSummary  # the name before SearchSummary, kept importable

__all__ = [
    "DEFAULT_ASSISTANT",
    "FUTURE_STATUS",
    "HANG_AFTER",
    "PROPERTIES",
    "RESPONSE_PROPERTIES",
    "Action",
    "CannotCheck",
    "CheckInterrupted",
    "ClientBlocked",
    "ClientCheckFailed",
    "ClientHung",
    "Contract",
    "Counterexample",
    "PolledTooFast",
    "Progress",
    "ResponseCheckFailed",
    "ResponseContract",
    "ResponseCounterexample",
    "ResponseSummary",
    "SearchSummary",
    "check_client",
    "check_response_client",
    "play",
    "play_all",
    "play_response",
]
