"""Expiry is judged by the server's clock where a reply's Date header shows it: a server whose
clock differs from the recorder's (an emulator on a virtual clock, a skewed server) is judged by
its own time; a Date header that does not parse is ignored. The emulator sends one Date header,
by its own clock."""

from __future__ import annotations

import http.client
from email.utils import formatdate, parsedate_to_datetime
from pathlib import Path

import orjson

from conformance.emulator import BASE_URL, Emulator
from conformance.emulator.clock import DEFAULT_START
from conformance.emulator.server import EmulatorServer
from conformance.emulator.transport import transport
from conformance.observations import Exchange, Location, Snapshot
from conformance.readers import read
from conformance.recorder import record
from tests.helpers.checktrace import FILE, T0, Trace, checked, run

_PATH = "/v1/threads/thread_1/runs/run_1"
_EXPIRED = "run.expiry_not_honoured"


def _poll(t: Trace, obj: dict[str, object], wall: float, date: str | None) -> int:
    """A recorded retrieve of `obj` at the recorder's `wall` time, with the server's `date`."""
    loc = t._next()
    headers = {"content-type": "application/json"}
    if date is not None:
        headers["date"] = date
    t.items.append(
        Exchange(loc, t.line, wall, None, "GET", _PATH, {}, None, 200, headers, obj, False)
    )
    return t.line


def _http_date(t: float) -> str:
    return formatdate(t, usegmt=True)


def _codes(trace: Path) -> list[str]:
    return checked(read(trace)).codes


def _record_emulator(path: Path) -> Emulator:
    """A polled run of an emulator on its default virtual clock (in 2024), recorded now: by the
    recorder's wall clock the run is years past its expires_at while it is in progress."""
    emulator = Emulator()
    with record(path) as rec, emulator.virtual_time():
        client = rec.client(transport=transport(emulator), base_url=BASE_URL, api_key="sk-test")
        thread_id, run_id = emulator.start_run("start+2, complete+5")
        client.beta.threads.runs.retrieve(run_id, thread_id=thread_id)  # queued
        client.beta.threads.runs.poll(run_id, thread_id=thread_id, poll_interval_ms=1000)
    return emulator


def test_a_recorded_emulator_on_a_virtual_clock_is_judged_by_its_date_header(
    tmp_path: Path,
) -> None:
    trace = tmp_path / "emulator.jsonl"
    emulator = _record_emulator(trace)
    exchanges = [i for i in read(trace) if isinstance(i, Exchange)]
    assert len(exchanges) >= 3
    for ex in exchanges:  # the server's clock is the emulator's, years before the recorder's
        assert ex.wall is not None
        server = parsedate_to_datetime(ex.response_headers["date"]).timestamp()
        assert DEFAULT_START <= server <= emulator.clock.now() < ex.wall - 86_400
    statuses = [ex.response_body["status"] for ex in exchanges if ex.method == "GET"]
    assert "in_progress" in statuses
    assert _EXPIRED not in _codes(trace)

    # the same trace without the Date headers is judged by the recorder's clock: flagged
    lines = []
    for line in trace.read_bytes().splitlines():
        obj = orjson.loads(line)
        if obj.get("kind") == "exchange" and obj.get("response"):
            obj["response"]["headers"].pop("date")
        lines.append(orjson.dumps(obj))
    bare = tmp_path / "no-date.jsonl"
    bare.write_bytes(b"\n".join(lines) + b"\n")
    assert _EXPIRED in _codes(bare)


def test_a_server_clock_past_expires_at_flags_a_run_still_in_progress() -> None:
    t = Trace()
    _poll(t, run("in_progress"), T0 + 10, _http_date(T0 + 30))
    # the recorder's clock says 20 s after the start; the server's says 2 minutes past expiry
    line = _poll(t, run("in_progress", metadata={"poll": 2}), T0 + 20, _http_date(T0 + 720))
    v = checked(t).only(_EXPIRED)
    assert (v.run_id, v.loc) == ("run_1", Location(FILE, line))
    assert v.message == "run run_1 is still in_progress 120 s after its expires_at"
    assert "server time" in v.observed
    assert f"wall time {T0 + 20}" in v.observed
    # by the recorder's clock alone, nothing is wrong
    plain = Trace()
    _poll(plain, run("in_progress"), T0 + 10, None)
    _poll(plain, run("in_progress", metadata={"poll": 2}), T0 + 20, None)
    assert checked(plain).violations == []


def test_the_offset_holds_for_later_snapshots_of_the_same_file_only() -> None:
    t = Trace()
    _poll(t, run("in_progress"), T0 + 10, _http_date(T0 + 10 + 640))  # the server: 640 s ahead
    line = t.snap(run("in_progress", metadata={"poll": 2}), wall=T0 + 30)
    v = checked(t).only(_EXPIRED)
    assert v.loc == Location(FILE, line)
    # a snapshot of another file at the same wall time: judged by that file's (recorder's) clock
    other = [t.items[0], Snapshot(Location("other.jsonl", 1), 2, t.items[1].obj, T0 + 30)]
    assert checked(other).violations == []


def test_a_malformed_date_header_is_ignored() -> None:
    for bad in ("yesterday", "Mon, 99 Foo 2024 99:99:99 GMT", "", "Tue, 02 Apr 2024"):
        # alone: judged by the recorder's clock (which says nothing is wrong)
        t = Trace()
        _poll(t, run("in_progress"), T0 + 10, bad)
        assert checked(t).violations == [], bad
        # after a good one: the good offset still holds
        t = Trace()
        _poll(t, run("in_progress"), T0 + 10, _http_date(T0 + 10 + 640))
        line = _poll(t, run("in_progress", metadata={"poll": 2}), T0 + 30, bad)
        assert checked(t).only(_EXPIRED).loc == Location(FILE, line), bad
        # and a wall time past expiry is still flagged
        t = Trace()
        _poll(t, run("in_progress"), T0 + 900, bad)
        assert checked(t).only(_EXPIRED).observed.startswith("in_progress at wall time"), bad


def test_the_emulator_server_sends_one_date_header_by_its_clock() -> None:
    emulator = Emulator()  # a virtual clock in 2024
    with EmulatorServer(emulator) as server:
        host, port = server.base_url.split("//")[1].split("/")[0].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/v1/threads/thread_missing", headers={"OpenAI-Beta": "assistants=v2"})
        response = conn.getresponse()
        response.read()
        conn.close()
    assert response.status == 404
    dates = response.msg.get_all("Date") or []
    assert dates == [_http_date(emulator.requests[0].at)]
    assert parsedate_to_datetime(dates[0]).timestamp() < DEFAULT_START + 3600
