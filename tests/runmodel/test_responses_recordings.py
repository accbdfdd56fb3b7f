"""The real Responses API recordings in ``tests/fixtures/responses/real``: each is the file its
``SOURCES.md`` names (same sha256), none holds a secret, and what they show agrees with the model
at the strict level (statuses, moves, the stream's sequence numbers, a resumed stream's suffix,
a function round's outputs).

Two formats: SDK test-proxy records (JSON, ``Entries``) and VCR.py cassettes (YAML,
``interactions``); both are read here into one shape, `Exchange`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from runmodel import FACTS, RESPONSE, Strictness

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "responses" / "real"
SOURCES = HERE / "SOURCES.md"
RECORDS = sorted(p for p in HERE.iterdir() if p.suffix in (".json", ".yaml"))

# values a recording must never hold (a key, an org or project id, a bearer token, a cookie)
_SECRET = re.compile(
    r"sk-[A-Za-z0-9_-]{16,}|Bearer\s+[A-Za-z0-9._-]{8,}|\borg-[A-Za-z0-9]{12,}"
    r"|\bproj_[A-Za-z0-9]{12,}|__cf_bm=|_cfuvid="
)
_SANITIZED_HEADERS = (
    "authorization",
    "openai-organization",
    "openai-project",
    "cookie",
    "set-cookie",
)
_MASK = re.compile(r"Sanitized|X+")  # the two masks the publishers used


@dataclass(frozen=True)
class Exchange:
    """One recorded request and its reply: a JSON body, or the events of an SSE body."""

    method: str
    uri: str
    status: int
    headers: dict[str, list[str]]  # request and reply headers, names lower-cased
    request: Any
    body: Any
    events: list[dict[str, Any]] | None


def _sse(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]


def _headers(*groups: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group in groups:
        for name, value in group.items():
            out.setdefault(name.lower(), []).extend(value if isinstance(value, list) else [value])
    return out


def exchanges(path: Path) -> list[Exchange]:
    """The recording's exchanges in order, whichever of the two formats it is in."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        return [
            Exchange(
                e["RequestMethod"],
                e["RequestUri"],
                e["StatusCode"],
                _headers(e["RequestHeaders"], e["ResponseHeaders"]),
                e["RequestBody"],
                None if isinstance(e["ResponseBody"], list) else e["ResponseBody"],
                _sse(e["ResponseBody"]) if isinstance(e["ResponseBody"], list) else None,
            )
            for e in json.loads(text)["Entries"]
        ]
    out = []
    for i in yaml.safe_load(text)["interactions"]:
        req, resp = i["request"], i["response"]
        sse = "parsed_body" not in resp
        out.append(
            Exchange(
                req["method"],
                req["uri"],
                resp["status"]["code"],
                _headers(req["headers"], resp["headers"]),
                req.get("parsed_body"),
                None if sse else resp["parsed_body"],
                _sse(resp["body"]["string"].splitlines()) if sse else None,
            )
        )
    return out


def _responses(x: Exchange) -> list[dict[str, Any]]:
    """The response objects an exchange shows: its body, or its events' responses."""
    objs = [ev["response"] for ev in x.events if "response" in ev] if x.events else [x.body]
    return [o for o in objs if isinstance(o, dict) and o.get("object") == "response"]


def _statuses(path: Path) -> Iterator[tuple[str, list[str]]]:
    """Each response's statuses in the order seen: once for its replies (create, polls, cancel)
    and once for each stream, since a resumed stream replays the response's past events."""
    replies: dict[str, list[str]] = {}
    for x in exchanges(path):
        if x.events is not None:
            streamed: dict[str, list[str]] = {}
            for obj in _responses(x):
                streamed.setdefault(obj["id"], []).append(obj["status"])
            yield from streamed.items()
            continue
        for obj in _responses(x):
            rid = obj["id"] if obj["id"] != "Sanitized" else _id_of(x.uri)
            replies.setdefault(rid, []).append(obj["status"])
    yield from replies.items()


def _id_of(uri: str) -> str:
    m = re.search(r"/responses/(resp_[A-Za-z0-9]+)", uri)
    assert m, uri
    return m[1]


def _listed() -> dict[str, str]:
    """File name -> sha256, from the sha256 block of SOURCES.md."""
    block = SOURCES.read_text(encoding="utf-8").split("sha256", 1)[1]
    return {m[2]: m[1] for m in re.finditer(r"^([0-9a-f]{64})  (\S+)$", block, re.M)}


def _record(test: str) -> Path:
    return next(p for p in RECORDS if p.name.endswith(f"__{test}"))


def _name(p: Path) -> str:
    return p.name.rsplit("__", 1)[1]


def test_every_recording_is_listed_with_its_sha256() -> None:
    listed = _listed()
    assert sorted(listed) == [p.name for p in RECORDS]
    for p in RECORDS:
        assert hashlib.sha256(p.read_bytes()).hexdigest() == listed[p.name], p.name


@pytest.mark.parametrize("path", RECORDS, ids=_name)
def test_no_recording_holds_a_secret(path: Path) -> None:
    assert not _SECRET.search(path.read_text(encoding="utf-8"))
    for x in exchanges(path):
        for name, values in x.headers.items():
            if name in _SANITIZED_HEADERS:
                assert all(_MASK.fullmatch(v) for v in values), (path.name, name, values)


def test_the_secret_checks_catch_what_they_claim() -> None:
    for leaked in (
        "sk-proj-abcdefghijklmnopqrstuvwx",
        "Bearer eyJhbGciOiJIUzI1NiJ9",
        "org-AbCdEfGhIjKlMnOp",
        "proj_AbCdEfGhIjKlMnOp",
        "__cf_bm=abc",
    ):
        assert _SECRET.search(f'"x": "{leaked}"'), leaked
    assert not _SECRET.search('"Authorization": "Sanitized", "id": "resp_0a33"')
    assert _MASK.fullmatch("XXXXXX")
    assert not _MASK.fullmatch("diligentiq")


@pytest.mark.parametrize("path", RECORDS, ids=_name)
def test_every_observed_move_is_a_strict_edge_of_the_model(path: Path) -> None:
    for rid, statuses in _statuses(path):
        assert statuses[0] in RESPONSE, (rid, statuses)
        for a, b in itertools.pairwise(statuses):
            if a != b:
                assert RESPONSE.reachable(a, b, Strictness.STRICT), (rid, a, b)


def test_a_background_cancel_while_queued_answers_cancelled() -> None:
    for name in ("CanCancelBackgroundResponses.json", "CanCancelBackgroundResponsesAsync.json"):
        create, cancel = exchanges(_record(name))
        assert create.body["status"] == "queued"
        assert cancel.uri.endswith("/cancel")
        assert (cancel.status, cancel.body["status"]) == (200, "cancelled")
        edge = RESPONSE.edge("queued", "cancelled")
        assert edge is not None
        assert edge.evidence.trusted


def test_a_background_poll_sees_queued_in_progress_completed() -> None:
    seen = [
        (x.method, x.body["status"]) for x in exchanges(_record("test_background_mode_vcr.yaml"))
    ]
    assert seen == [("POST", "queued"), ("GET", "in_progress"), ("GET", "completed")]
    assert [e.dest for e in RESPONSE.path("queued", "completed")] == ["in_progress", "completed"]


@pytest.mark.parametrize(
    "path", [p for p in RECORDS if "starting_after=" in p.read_text(encoding="utf-8")], ids=_name
)
def test_a_background_stream_counts_from_zero_and_a_resume_sends_the_suffix(path: Path) -> None:
    created, *_, resumed = [x for x in exchanges(path) if x.events is not None]
    first = [ev["sequence_number"] for ev in created.events or []]
    assert first == list(range(len(first)))
    assert [ev["type"] for ev in (created.events or [])[:2]] == [
        "response.created",
        "response.queued",
    ]
    after = int(re.search(r"starting_after=(\d+)", resumed.uri)[1])  # type: ignore[index]
    again = resumed.events or []
    assert [ev["sequence_number"] for ev in again] == first[after + 1 :]
    assert all(ev["type"] != "response.created" for ev in again)


def test_a_resumed_stream_replays_the_past_not_a_move() -> None:
    path = _record("test_background_mode_streaming_starting_after_vcr.yaml")
    created, poll_or_resume = exchanges(path)
    done = (created.events or [])[-1]
    assert done["type"] == "response.completed"
    replayed = [ev["response"]["status"] for ev in poll_or_resume.events or [] if "response" in ev]
    assert replayed == ["queued", "in_progress", "completed"]  # sent after it had completed
    assert not RESPONSE.reachable("completed", "queued", Strictness.PERMISSIVE)
    assert "response.stream.replay_history" in FACTS


def test_each_function_round_answers_every_call() -> None:
    for name in ("FunctionCallWorks.json", "test_background_mode_with_tool_vcr.yaml"):
        creates = [x for x in exchanges(_record(name)) if x.method == "POST"]
        asked, answer = creates[0], creates[1]
        parent = next(
            o
            for x in exchanges(_record(name))
            for o in _responses(x)
            if o["id"] == asked.body["id"] and o["status"] == "completed"
        )
        calls = {i["call_id"] for i in parent["output"] if i["type"] == "function_call"}
        outputs = {
            i["call_id"] for i in answer.request["input"] if i.get("type") == "function_call_output"
        }
        assert calls
        assert outputs == calls, name
        chained = answer.request.get("previous_response_id") == asked.body["id"]
        replayed = calls <= {
            i.get("call_id") for i in answer.request["input"] if i.get("type") == "function_call"
        }
        assert chained or replayed, name
