"""What readers produce and the checker consumes: one typed item per thing seen in a file.

Every reader (native traces, VCR cassettes, HAR, bare objects) turns its input into a stream of
these items, in observation order, each with a `Location` so that any finding can point at the
file and line. Bad input becomes an `InputProblem` item in the stream; readers never raise for a
user's mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

__all__ = [
    "Exchange",
    "InputProblem",
    "Item",
    "Location",
    "Snapshot",
    "StreamEvent",
    "TraceInfo",
]


class Location(NamedTuple):
    """Where an item came from: a file, a 1-based line where known, and a finer pointer.

    A named tuple, not a dataclass: one is made per line read, and tuples are the cheapest.
    """

    file: str
    line: int | None = None
    where: str | None = None  # e.g. "interactions[3]", "entries[12]", "event 4"

    def __str__(self) -> str:
        text = self.file if self.line is None else f"{self.file}:{self.line}"
        return text if self.where is None else f"{text} ({self.where})"


@dataclass(slots=True)
class Exchange:
    """One HTTP request and its response (a streamed response's events follow as items)."""

    loc: Location
    seq: int | None
    wall: float | None
    mono: float | None
    method: str
    path: str  # URL path only, e.g. "/v1/threads/thread_abc/runs/run_abc"
    query: dict[str, str] = field(default_factory=dict)
    request_body: Any = None  # parsed JSON where it was JSON
    status: int | None = None  # None when no response came (connection error)
    response_headers: dict[str, str] = field(default_factory=dict)  # keys lower-cased
    response_body: Any = None  # parsed JSON; None for streams
    streamed: bool = False


@dataclass(slots=True)
class StreamEvent:
    """One server-sent event of a streamed response."""

    loc: Location
    seq: int | None
    exchange_seq: int | None  # the seq of the Exchange whose stream carried it
    wall: float | None
    mono: float | None
    event: str  # e.g. "thread.run.created"; "done" for the [DONE] sentinel
    data: Any  # parsed JSON, or the string "[DONE]"


@dataclass(slots=True)
class Snapshot:
    """A bare run, run step or message object, as saved by ``model_dump_json()`` or printed."""

    loc: Location
    seq: int | None
    obj: dict[str, Any]
    wall: float | None = None


@dataclass(frozen=True, slots=True)
class InputProblem:
    """Input that could not be used; reading goes on with the rest of the file."""

    loc: Location
    code: str  # stable, e.g. "input.malformed_json", "input.truncated"
    message: str


@dataclass(frozen=True, slots=True)
class TraceInfo:
    """A trace's header: what wrote it, with which SDK, when."""

    loc: Location
    format: str
    version: int
    tool: str | None = None
    sdk: str | None = None
    created: str | None = None


Item = Exchange | StreamEvent | Snapshot | InputProblem | TraceInfo
