"""Reading the server's log of requests as the client saw it: which run a reply showed, and the
parts of a path."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson

from ..emulator import Request

__all__ = ["json_body", "seen_run", "seen_status_at", "segments"]


def segments(path: str) -> list[str]:
    """A path's parts after ``/v1``: ``["threads", "thread_…", "runs"]``."""
    return path.removeprefix("/v1").strip("/").split("/")


def json_body(raw: bytes | None) -> Any:
    """A JSON body, or None if there is none or it is not JSON."""
    try:
        return orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return None


def seen_run(rec: Request, run_id: str | None) -> dict[str, Any] | None:
    """The run a reply showed the client, if any (JSON body, or a stream's last run event)."""
    if run_id is None:
        return None
    if rec.events is not None:
        last = None
        for name, data in rec.stream_events():
            if (
                name.startswith("thread.run.")
                and isinstance(data, dict)
                and data.get("id") == run_id
            ):
                last = data
        return last
    body = rec.json() if rec.status is not None else None
    if isinstance(body, dict) and body.get("object") == "thread.run" and body.get("id") == run_id:
        return body
    return None


def seen_status_at(requests: Iterable[Request], run_id: str, seq: int) -> str:
    """The run's status as the server last showed it before request `seq`."""
    status = "active"
    for rec in requests:
        if rec.seq >= seq:
            break
        seen = seen_run(rec, run_id) if rec.run_id == run_id else None
        if seen is not None:
            status = str(seen["status"])
    return status
