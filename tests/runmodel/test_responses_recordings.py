"""The real Responses API recordings in ``tests/fixtures/responses/real``: each is the file its
``SOURCES.md`` names (same sha256), none holds a secret, and what they show agrees with the model
at the strict level (statuses, moves, the stream's sequence numbers, a resumed stream's suffix).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runmodel import RESPONSE, Strictness

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "responses" / "real"
SOURCES = HERE / "SOURCES.md"
RECORDS = sorted(HERE.glob("*.json"))

# values a recording must never hold (a key, an org or project id, a bearer token, a cookie)
_SECRET = re.compile(
    r"sk-[A-Za-z0-9_-]{16,}|Bearer\s+[A-Za-z0-9._-]{8,}|\borg-[A-Za-z0-9]{12,}"
    r"|\bproj_[A-Za-z0-9]{12,}|__cf_bm=|_cfuvid="
)
_SANITIZED_HEADERS = ("authorization", "openai-organization", "openai-project", "set-cookie")


def _listed() -> dict[str, str]:
    """File name -> sha256, from the sha256 block of SOURCES.md."""
    block = SOURCES.read_text(encoding="utf-8").split("sha256:", 1)[1]
    return {m[2]: m[1] for m in re.finditer(r"^([0-9a-f]{64})  (\S+)$", block, re.M)}


def _entries(path: Path) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["Entries"]
    return entries


def _events(body: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line[len("data: ") :]) for line in body if line.startswith("data: ")]


def _statuses(path: Path) -> Iterator[tuple[str, list[str]]]:
    """Each response id with the statuses it was seen in, in the order of the recording."""
    seen: dict[str, list[str]] = {}
    for e in _entries(path):
        body = e["ResponseBody"]
        objs = (
            [ev["response"] for ev in _events(body) if "response" in ev]
            if isinstance(body, list)
            else [body]
        )
        for obj in objs:
            if isinstance(obj, dict) and obj.get("object") == "response":
                rid = obj["id"] if obj["id"] != "Sanitized" else _id_of(e["RequestUri"])
                seen.setdefault(rid, []).append(obj["status"])
    yield from seen.items()


def _id_of(uri: str) -> str:
    m = re.search(r"/responses/(resp_[A-Za-z0-9]+)", uri)
    assert m, uri
    return m[1]


def _record(test: str) -> Path:
    return next(p for p in RECORDS if p.name.endswith(f"__{test}"))


def test_every_recording_is_listed_with_its_sha256() -> None:
    listed = _listed()
    assert sorted(listed) == [p.name for p in RECORDS]
    for p in RECORDS:
        assert hashlib.sha256(p.read_bytes()).hexdigest() == listed[p.name], p.name


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name.rsplit("__", 1)[1])
def test_no_recording_holds_a_secret(path: Path) -> None:
    assert not _SECRET.search(path.read_text(encoding="utf-8"))
    for e in _entries(path):
        for headers in (e["RequestHeaders"], e["ResponseHeaders"]):
            for name, value in headers.items():
                if name.lower() in _SANITIZED_HEADERS:
                    values = value if isinstance(value, list) else [value]
                    assert set(values) == {"Sanitized"}, (path.name, name)


def test_the_secret_pattern_catches_what_it_claims() -> None:
    for leaked in (
        "sk-proj-abcdefghijklmnopqrstuvwx",
        "Bearer eyJhbGciOiJIUzI1NiJ9",
        "org-AbCdEfGhIjKlMnOp",
        "proj_AbCdEfGhIjKlMnOp",
        "__cf_bm=abc",
    ):
        assert _SECRET.search(f'"x": "{leaked}"'), leaked
    assert not _SECRET.search('"Authorization": "Sanitized", "id": "resp_0a33"')


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name.rsplit("__", 1)[1])
def test_every_observed_move_is_a_strict_edge_of_the_model(path: Path) -> None:
    for rid, statuses in _statuses(path):
        assert statuses[0] in RESPONSE, (rid, statuses)
        for a, b in itertools.pairwise(statuses):
            if a != b:
                assert RESPONSE.reachable(a, b, Strictness.STRICT), (rid, a, b)


def test_a_background_cancel_while_queued_answers_cancelled() -> None:
    for name in ("CanCancelBackgroundResponses.json", "CanCancelBackgroundResponsesAsync.json"):
        create, cancel = _entries(_record(name))
        assert create["ResponseBody"]["status"] == "queued"
        assert cancel["RequestUri"].endswith("/cancel")
        assert (cancel["StatusCode"], cancel["ResponseBody"]["status"]) == (200, "cancelled")
        edge = RESPONSE.edge("queued", "cancelled")
        assert edge is not None
        assert edge.evidence.trusted


def test_a_background_stream_counts_from_zero_and_a_resume_sends_the_suffix() -> None:
    created, _poll, resumed = _entries(_record("CanUseStreamingBackgroundResponses.json"))
    first = [ev["sequence_number"] for ev in _events(created["ResponseBody"])]
    assert first == list(range(len(first)))
    after = int(resumed["RequestUri"].rsplit("starting_after=", 1)[1])
    again = _events(resumed["ResponseBody"])
    assert [ev["sequence_number"] for ev in again] == first[after + 1 :]
    assert all(ev["type"] != "response.created" for ev in again)
