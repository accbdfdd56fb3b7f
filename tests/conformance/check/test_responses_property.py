"""Properties of the response part: any renumbering of a legal stream's events other than the
legal one is caught under a ``response.stream`` code, and any legal stream cut and resumed at
any point conforms."""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import given
from hypothesis import strategies as st

from conformance.check import check
from conformance.readers import read
from tests.conformance.check.response_scenarios import (
    STREAM_EVENTS,
    Scenario,
    streamed,
    write_events,
)
from tests.helpers.checktrace import Outcome


def _codes(s: Scenario) -> list[str]:
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.trace.jsonl"
        path.write_text(s.native(), encoding="utf-8")
        return Outcome(list(check(read(path)))).codes


@given(st.lists(st.integers(-1, STREAM_EVENTS + 2), min_size=STREAM_EVENTS, max_size=STREAM_EVENTS))
def test_a_renumbered_stream_is_caught(numbers: list[int]) -> None:
    s = streamed()
    for e, n in zip((e for e in s.entries if e["kind"] == "event"), numbers, strict=True):
        e["data"]["sequence_number"] = n
    codes = _codes(s)
    if numbers == list(range(STREAM_EVENTS)):
        assert codes == []
    else:
        assert any(c.startswith("response.stream.") for c in codes), (numbers, codes)


@given(st.integers(0, STREAM_EVENTS - 2))
def test_a_stream_cut_anywhere_and_resumed_from_its_last_event_conforms(cut: int) -> None:
    s = Scenario("cut")
    r = "resp_cut"
    ex = s.http(
        "POST",
        "/responses",
        None,
        request={"model": "m", "input": "x", "background": True, "stream": True},
        stream=True,
    )
    write_events(s, ex, 0, cut + 1, r)
    again = s.http(
        "GET",
        f"/responses/{r}",
        None,
        query={"stream": "true", "starting_after": str(cut)},
        stream=True,
    )
    write_events(s, again, cut + 1, STREAM_EVENTS, r)
    assert _codes(s) == []
