"""Recorded Responses API traffic, written by hand: objects a correct server sends, and the
legal paths of a background response as scenarios that render to the project's trace, a VCR.py
cassette (YAML or JSON), an SDK test-proxy record and an ExVCR recording.

A `Scenario` holds native trace entries (line = seq + 1, after the header), so that a test can
assert a finding's exact line; tests break a copy of a legal scenario to make its broken twin.
`tests/fixtures/responses/` holds the legal scenarios rendered (`test_fixtures_are_current`).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

T0 = 1_767_225_600
MODEL = "gpt-4o"
FIXTURES = Path(__file__).parents[2] / "fixtures" / "responses"


def response(
    status: str,
    *,
    rid: str = "resp_1",
    background: bool = True,
    calls: Sequence[str] = (),
    prev: str | None = None,
    t: int = T0 + 20,
    **over: Any,
) -> dict[str, Any]:
    """A response object as the API returns it in `status` (`calls`: the function_call items
    of a completed one; else a message)."""
    output: list[dict[str, Any]] = []
    if status == "completed" and calls:
        output = [
            {
                "type": "function_call",
                "id": f"fc_{c}",
                "call_id": c,
                "name": "get_weather",
                "arguments": '{"city":"Paris"}',
                "status": "completed",
            }
            for c in calls
        ]
    elif status in ("completed", "incomplete"):
        output = [
            {
                "type": "message",
                "id": f"msg_{rid}",
                "status": status,
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Sunny.", "annotations": []}],
            }
        ]
    usage = {"input_tokens": 12, "output_tokens": 5, "total_tokens": 17}
    o: dict[str, Any] = {
        "id": rid,
        "object": "response",
        "created_at": T0,
        "status": status,
        "background": background,
        "completed_at": t if status == "completed" else None,
        "error": {"code": "server_error", "message": "The server had an error."}
        if status == "failed"
        else None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": MODEL,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": prev,
        "temperature": 1.0,
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage if status in ("completed", "incomplete") else None,
        "metadata": {},
    }
    o.update(over)
    return o


class Scenario:
    """Native trace entries in order: exchanges and the events of their streams."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.entries: list[dict[str, Any]] = []

    @property
    def seq(self) -> int:
        """The last entry's seq."""
        return len(self.entries)

    def line(self, seq: int) -> int:
        """The native trace's line of entry `seq` (the header is line 1)."""
        return seq + 1

    def http(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        request: Any = None,
        status: int | None = 200,
        query: dict[str, str] | None = None,
        stream: bool = False,
    ) -> int:
        """An exchange on ``/v1`` + `path`; returns its seq."""
        seq = self.seq + 1
        headers = {"content-type": "text/event-stream" if stream else "application/json"}
        self.entries.append(
            {
                "kind": "exchange",
                "seq": seq,
                "wall": T0 + seq,
                "mono": 100.0 + seq,
                "request": {
                    "method": method,
                    "path": "/v1" + path,
                    "query": query or {},
                    "headers": {"content-type": "application/json"},
                    "body": request,
                },
                "response": None
                if status is None
                else {"status": status, "headers": headers, "body": body, "stream": stream},
                "duration": 0.2,
            }
        )
        return seq

    def event(self, exchange: int, name: str, n: int | None, **data: Any) -> int:
        """A server-sent event of the stream of `exchange` (`n`: its sequence_number, None to
        leave it out); returns its seq."""
        seq = self.seq + 1
        payload = {"type": name, **({} if n is None else {"sequence_number": n}), **data}
        self.entries.append(
            {
                "kind": "event",
                "seq": seq,
                "exchange": exchange,
                "wall": T0 + seq,
                "mono": 100.0 + seq,
                "event": name,
                "data": payload,
            }
        )
        return seq

    def copy(self) -> Scenario:
        """A deep copy (to break one thing in)."""
        twin = Scenario(self.name)
        twin.entries = copy.deepcopy(self.entries)
        return twin

    def find(self, test: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The first entry `test` holds for."""
        return next(e for e in self.entries if test(e))

    # -- renderings ----------------------------------------------------------------------------

    def native(self) -> str:
        """The project's trace (``runmodel-trace``)."""
        header = {
            "kind": "header",
            "format": "runmodel-trace",
            "version": 1,
            "tool": "runmodel 0.1.0",
            "sdk": "openai 3.57.0",
            "http": "httpx2 2.16.2",
            "created": "2026-01-01T00:00:00.000Z",
        }
        footer = {"kind": "footer", "count": self.seq, "lost": 0, "closed": "2026-01-01T00:01:00Z"}
        lines = [header, *self.entries, footer]
        return "".join(
            json.dumps(x, separators=(",", ":"), ensure_ascii=False) + "\n" for x in lines
        )

    def _exchanges(self) -> list[tuple[dict[str, Any], str | None]]:
        """Each exchange with its response body as text (a stream's: its events as SSE)."""
        out: list[tuple[dict[str, Any], str | None]] = []
        for e in self.entries:
            if e["kind"] == "exchange":
                r = e["response"]
                text = None
                if r is not None and not r["stream"] and r["body"] is not None:
                    text = json.dumps(r["body"], separators=(",", ":"))
                out.append((e, text))
            elif e["kind"] == "event":
                ex = next(x for x in out if x[0]["seq"] == e["exchange"])
                sse = (
                    f"event: {e['event']}\ndata: {json.dumps(e['data'], separators=(',', ':'))}\n\n"
                )
                out[out.index(ex)] = (ex[0], (ex[1] or "") + sse)
        return out

    @staticmethod
    def _url(e: dict[str, Any]) -> str:
        q = e["request"]["query"]
        query = "?" + "&".join(f"{k}={v}" for k, v in q.items()) if q else ""
        return "https://api.openai.com" + e["request"]["path"] + query

    def vcr(self) -> dict[str, Any]:
        """A VCR.py cassette (as a value: `vcr_yaml`, `vcr_json` write it)."""
        interactions = []
        for e, text in self._exchanges():
            req = e["request"]
            r = e["response"]
            ctype = r["headers"]["content-type"] if r else "application/json"
            interactions.append(
                {
                    "request": {
                        "body": None
                        if req["body"] is None
                        else json.dumps(req["body"], separators=(",", ":")),
                        "headers": {"content-type": ["application/json"]},
                        "method": req["method"],
                        "uri": self._url(e),
                    },
                    "response": {
                        "body": {"string": text or ""},
                        "headers": {"Content-Type": [ctype]},
                        "status": {"code": r["status"] if r else 0, "message": "OK"},
                    },
                }
            )
        return {"interactions": interactions, "version": 1}

    def vcr_yaml(self) -> str:
        """A VCR.py cassette, YAML."""
        return yaml.safe_dump(self.vcr(), sort_keys=False, width=10_000)

    def vcr_json(self) -> str:
        """A VCR.py cassette, JSON."""
        return json.dumps(self.vcr(), indent=2) + "\n"

    def test_proxy(self) -> str:
        """An SDK test-proxy session record (streams as their lines)."""
        entries = []
        for e, text in self._exchanges():
            r = e["response"]
            stream = bool(r and r["stream"])
            body: Any = (
                (text or "").splitlines(keepends=True) if stream else r["body"] if r else None
            )
            entries.append(
                {
                    "RequestUri": self._url(e),
                    "RequestMethod": e["request"]["method"],
                    "RequestHeaders": {"Content-Type": "application/json"},
                    "RequestBody": e["request"]["body"],
                    "StatusCode": r["status"] if r else 0,
                    "ResponseHeaders": {"Content-Type": r["headers"]["content-type"] if r else ""},
                    "ResponseBody": body,
                }
            )
        return json.dumps({"Entries": entries, "Variables": {}}, indent=2) + "\n"

    def exvcr(self) -> str:
        """An ExVCR recording."""
        out = []
        for e, text in self._exchanges():
            r = e["response"]
            req = e["request"]
            out.append(
                {
                    "request": {
                        "body": "" if req["body"] is None else json.dumps(req["body"]),
                        "url": self._url(e),
                        "headers": {"Content-type": "application/json"},
                        "method": req["method"].lower(),
                        "options": {},
                        "request_body": "",
                    },
                    "response": {
                        "binary": False,
                        "type": "ok",
                        "body": text or "",
                        "headers": {"Content-Type": r["headers"]["content-type"] if r else ""},
                        "status_code": r["status"] if r else 0,
                    },
                }
            )
        return json.dumps(out, indent=2) + "\n"


RENDERINGS: dict[str, Callable[[Scenario], str]] = {
    "trace.jsonl": Scenario.native,
    "vcr.yaml": Scenario.vcr_yaml,
    "vcr.json": Scenario.vcr_json,
    "test-proxy.json": Scenario.test_proxy,
    "exvcr.json": Scenario.exvcr,
}
"""Fixture file suffix -> how a scenario renders to it."""


# -- the legal paths ---------------------------------------------------------------------------

_CREATE = {"model": MODEL, "input": "What is the weather in Paris?", "background": True}


def polled() -> Scenario:
    """Background mode, polled until completed."""
    s = Scenario("polled")
    r = "resp_polled"
    s.http("POST", "/responses", response("queued", rid=r), request=_CREATE)
    s.http("GET", f"/responses/{r}", response("queued", rid=r))
    s.http("GET", f"/responses/{r}", response("in_progress", rid=r))
    s.http("GET", f"/responses/{r}", response("in_progress", rid=r))
    s.http("GET", f"/responses/{r}", response("completed", rid=r))
    return s


def write_events(s: Scenario, ex: int, start: int, stop: int, r: str) -> None:
    """The events numbered `start` to `stop` - 1 of background response `r`'s stream."""
    item = response("completed", rid=r)["output"][0]
    script: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": response("queued", rid=r)}),
        ("response.queued", {"response": response("queued", rid=r)}),
        ("response.in_progress", {"response": response("in_progress", rid=r)}),
        ("response.output_item.added", {"output_index": 0, "item": {**item, "content": []}}),
        (
            "response.output_text.delta",
            {"item_id": item["id"], "output_index": 0, "content_index": 0, "delta": "Sunny"},
        ),
        (
            "response.output_text.delta",
            {"item_id": item["id"], "output_index": 0, "content_index": 0, "delta": "."},
        ),
        ("response.output_item.done", {"output_index": 0, "item": item}),
        ("response.completed", {"response": response("completed", rid=r)}),
    ]
    for n in range(start, stop):
        name, data = script[n]
        s.event(ex, name, n, **data)


STREAM_EVENTS = 8
"""Events in a whole stream of `streamed` (numbered 0 to 7)."""


def streamed() -> Scenario:
    """Background mode with stream=true, read to its end."""
    s = Scenario("streamed")
    ex = s.http("POST", "/responses", None, request={**_CREATE, "stream": True}, stream=True)
    write_events(s, ex, 0, STREAM_EVENTS, "resp_streamed")
    return s


RESUMED_AFTER = 3


def resumed() -> Scenario:
    """A stream that dropped after event 3, resumed with starting_after=3."""
    s = Scenario("resumed")
    r = "resp_resumed"
    ex = s.http("POST", "/responses", None, request={**_CREATE, "stream": True}, stream=True)
    write_events(s, ex, 0, RESUMED_AFTER + 1, r)
    again = s.http(
        "GET",
        f"/responses/{r}",
        None,
        query={"stream": "true", "starting_after": str(RESUMED_AFTER)},
        stream=True,
    )
    write_events(s, again, RESUMED_AFTER + 1, STREAM_EVENTS, r)
    return s


def cancelled() -> Scenario:
    """Cancelled while in progress; cancelled again (a no-op)."""
    s = Scenario("cancelled")
    r = "resp_cancelled"
    s.http("POST", "/responses", response("queued", rid=r), request=_CREATE)
    s.http("GET", f"/responses/{r}", response("in_progress", rid=r))
    s.http("POST", f"/responses/{r}/cancel", response("cancelled", rid=r))
    s.http("GET", f"/responses/{r}", response("cancelled", rid=r))
    s.http("POST", f"/responses/{r}/cancel", response("cancelled", rid=r))
    s.http("DELETE", f"/responses/{r}", {"id": r, "object": "response", "deleted": True})
    return s


CALLS = ("call_a", "call_b")


def function_round() -> Scenario:
    """A response completes with two function calls; the client answers both in a new one."""
    s = Scenario("function-round")
    r1, r2 = "resp_asks", "resp_answers"
    tools = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]
    s.http("POST", "/responses", response("queued", rid=r1), request={**_CREATE, "tools": tools})
    s.http("GET", f"/responses/{r1}", response("completed", rid=r1, calls=CALLS))
    answer = {
        "model": MODEL,
        "background": True,
        "previous_response_id": r1,
        "input": [
            {"type": "function_call_output", "call_id": c, "output": '{"sky":"sunny"}'}
            for c in CALLS
        ],
    }
    s.http("POST", "/responses", response("queued", rid=r2, prev=r1), request=answer)
    s.http("GET", f"/responses/{r2}", response("in_progress", rid=r2, prev=r1))
    s.http("GET", f"/responses/{r2}", response("completed", rid=r2, prev=r1))
    return s


LEGAL: dict[str, Callable[[], Scenario]] = {
    "polled": polled,
    "streamed": streamed,
    "resumed": resumed,
    "cancelled": cancelled,
    "function-round": function_round,
}
"""Every legal path, by fixture name."""


def cancelled_then_completed() -> Scenario:
    """Azure's disputed behaviour: read cancelled, then completed later (permissive only)."""
    s = Scenario("cancelled-then-completed")
    r = "resp_revived"
    s.http("POST", "/responses", response("queued", rid=r), request=_CREATE)
    s.http("GET", f"/responses/{r}", response("in_progress", rid=r))
    s.http("POST", f"/responses/{r}/cancel", response("cancelled", rid=r))
    s.http("GET", f"/responses/{r}", response("cancelled", rid=r))
    s.http("GET", f"/responses/{r}", response("completed", rid=r))
    return s


def write_fixtures(directory: Path = FIXTURES) -> list[Path]:
    """Render every legal scenario (and the permissive one) in every format into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for make in (*LEGAL.values(), cancelled_then_completed):
        s = make()
        for suffix, render in RENDERINGS.items():
            path = directory / f"{s.name}.{suffix}"
            path.write_text(render(s), encoding="utf-8")
            written.append(path)
    return written


if __name__ == "__main__":  # python -m tests.conformance.check.response_scenarios
    for p in write_fixtures():
        print(p)
