"""What passes between a front-end and the emulator: a `Reply` out, a logged `Request`.

Front-ends (the in-process transports, the HTTP server) need only these and `Answers`, the one
method they call, so they do not depend on the emulator's core.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, Protocol

import orjson

from runmodel import RunmodelError

__all__ = [
    "BASE_URL",
    "JSON",
    "SSE",
    "Answers",
    "Reply",
    "Request",
    "StreamDropped",
    "reply_headers",
]

BASE_URL = "http://emulator.runmodel.invalid/v1"
"""The base URL of in-process clients (``.invalid``: it can never reach a real host)."""

JSON = ("content-type", "application/json")
SSE = ("content-type", "text/event-stream; charset=utf-8")


class StreamDropped(RunmodelError):
    """Raised by a reply's stream where the connection breaks off mid-way (an injected fault):
    each front-end turns it into what its clients see when a server closes a body early."""


@dataclass(slots=True)
class Reply:
    """What the core answers: status, headers, and a body or a stream of SSE chunks.

    `drop` means the connection breaks with no reply at all (an injected fault).
    """

    status: int
    headers: list[tuple[str, str]]
    body: bytes = b""
    stream: Iterator[bytes] | None = None
    drop: bool = False


@dataclass(slots=True, eq=False)
class Request:
    """One request the emulator received, with its virtual time and what it answered."""

    seq: int
    at: float  # virtual time the request arrived (after latency)
    method: str
    path: str
    query: str
    body: bytes
    status: int | None = None  # None: the connection was dropped
    headers: list[tuple[str, str]] = field(default_factory=list)
    response: bytes | None = None  # the JSON body; None for streams and dropped connections
    events: list[tuple[str, bytes, float]] | None = None  # (event, SSE chunk, time) of a stream
    fault: str | None = None
    run_id: str | None = None  # the run the request concerned, where there is one
    response_id: str | None = None  # the response the request concerned, where there is one

    def json(self) -> Any:
        """The reply's JSON body (None for streams and dropped connections)."""
        return None if self.response is None else orjson.loads(self.response)

    @property
    def streamed(self) -> bool:
        return self.events is not None

    def stream_events(self) -> list[tuple[str, Any]]:
        """The streamed events so far as (event, parsed data); ``done`` carries ``"[DONE]"``."""
        out: list[tuple[str, Any]] = []
        for name, chunk, _ in self.events or ():
            data = chunk.split(b"\ndata: ", 1)[1].rstrip(b"\n")
            out.append((name, "[DONE]" if data == b"[DONE]" else orjson.loads(data)))
        return out


class Answers(Protocol):
    """Anything that answers requests as the emulator does (`Emulator.handle`)."""

    def handle(
        self,
        method: str,
        path: str,
        query: str = "",
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply: ...


def reply_headers(content_type: tuple[str, str], rec: Request) -> list[tuple[str, str]]:
    """A reply's headers: its type, its request id, and the date by the emulator's clock (when
    the request arrived), so that a checker can tell the server's time from the recorder's."""
    return [
        content_type,
        ("x-request-id", f"req_{rec.seq:012d}"),
        ("date", formatdate(rec.at, usegmt=True)),
    ]
