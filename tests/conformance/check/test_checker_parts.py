"""A lifecycle's part is registered by name: a second lifecycle's traffic is judged by its own
part, asked before the Assistants run's, without changing the checker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.check import (
    Host,
    ResponseTraffic,
    RunTraffic,
    Severity,
    Violation,
    register_part,
    unregister_part,
)
from conformance.errors import format_error
from conformance.observations import Exchange, StreamEvent
from tests.conformance.check.response_scenarios import response
from tests.helpers.checktrace import Trace, checked, error, run

_CANCEL = "/threads/thread_1/runs/run_1/cancel"


class _Responses:
    """A miniature part of another lifecycle: it takes /responses traffic and reports each
    exchange; everything else is left to the parts registered before it."""

    def __init__(self, host: Host) -> None:
        self.host = host

    def exchange(self, ex: Exchange) -> bool:
        if not ex.path.startswith("/v1/responses"):
            return False
        self.host.checkable += 1
        where = (None, None, ex.loc, ex.seq)
        self.host.findings.add(None, Violation.of("response.seen", Severity.WARNING, "x", where))
        return True

    def stream_event(self, ev: StreamEvent) -> bool:
        return False

    def finish(self) -> None:
        pass


@pytest.fixture
def responses() -> Iterator[None]:
    register_part("response", _Responses)
    try:
        yield
    finally:
        register_part("response", ResponseTraffic)


def _trace() -> Trace:
    t = Trace()
    t.http("POST", "/responses", response("queued"))
    t.http("GET", "/threads/thread_1/runs/run_1", run("completed"))
    refusal = error(format_error("cancel_not_allowed", status="completed"))
    t.http("POST", _CANCEL, refusal, status=400)
    return t


@pytest.mark.usefixtures("responses")
def test_a_registered_part_judges_its_own_traffic() -> None:
    out = checked(_trace())
    assert out.codes == ["response.seen", "client.cancel_illegal"]
    assert out.summary.warnings == out.summary.errors == 1


def test_without_it_the_run_part_takes_everything() -> None:
    unregister_part("response")
    try:
        out = checked(_trace())
    finally:
        register_part("response", ResponseTraffic)
    assert out.codes == ["client.cancel_illegal"]


def test_the_run_part_can_be_replaced_and_restored() -> None:
    class Silent(_Responses):
        def exchange(self, ex: Exchange) -> bool:
            return True

    register_part("run", Silent)
    try:
        assert checked(_trace()).codes == []
    finally:
        register_part("run", RunTraffic)
    assert checked(_trace()).codes == ["client.cancel_illegal"]
