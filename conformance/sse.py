"""Server-sent events, parsed the way the openai SDK parses them.

Shared by the recorder (bytes arriving in arbitrary chunks) and the readers (a saved body): lines
end at CR, LF or CRLF, ``event:`` names the event, ``data:`` lines are joined with LF, a blank
line dispatches, and an unterminated last event is dropped, as the SDK drops it.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import orjson

__all__ = ["SSEParser", "decode_event", "parse_sse"]

_EOL = re.compile(rb"\r\n?|\n")
_DONE = "[DONE]"


class SSEParser:
    """Incremental SSE parser: `feed` bytes in any chunks, get ``(event, data)`` pairs in order."""

    __slots__ = ("_buf", "_data", "_event", "_last_id", "_retry", "_skip_lf")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip_lf = False  # the last chunk ended in CR: a leading LF belongs to that CR
        self._event: str | None = None
        self._data: list[str] = []
        self._last_id = ""  # kept across events, as the SSE spec (and the SDK) keep it
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[tuple[str | None, str]]:
        """Consume a chunk; return the events that it completed."""
        if not chunk:
            return []
        start = 0
        if self._skip_lf:
            self._skip_lf = False
            if chunk[0] == 10:
                start = 1
        out: list[tuple[str | None, str]] = []
        for match in _EOL.finditer(chunk, start):
            end = match.start()
            if self._buf:
                self._buf += chunk[start:end]
                line = bytes(self._buf)
                self._buf.clear()
            else:
                line = chunk[start:end]
            self._line(line.decode("utf-8", "replace"), out)
            start = match.end()
            if match.group() == b"\r" and start == len(chunk):
                self._skip_lf = True
        if start < len(chunk):
            self._buf += chunk[start:]
        return out

    def finish(self) -> list[tuple[str | None, str]]:
        """End of stream: an unterminated last line is read, an undispatched event dropped."""
        if self._buf:
            line = bytes(self._buf)
            self._buf.clear()
            self._line(line.decode("utf-8", "replace"), [])
        self._event, self._data, self._retry = None, [], None
        return []

    def _line(self, line: str, out: list[tuple[str | None, str]]) -> None:
        if not line:
            # The SDK's rule, quirk included: once an id is set, every blank line dispatches.
            if self._event or self._data or self._last_id or self._retry is not None:
                out.append((self._event, "\n".join(self._data)))
                self._event, self._data, self._retry = None, [], None
            return
        if line[0] == ":":
            return
        name, _, value = line.partition(":")
        if value[:1] == " ":
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            with contextlib.suppress(ValueError):
                self._retry = int(value)


def parse_sse(body: bytes | str) -> list[tuple[str | None, str]]:
    """Every complete event of a whole saved stream body."""
    parser = SSEParser()
    events = parser.feed(body.encode("utf-8") if isinstance(body, str) else body)
    parser.finish()
    return events


def decode_event(event: str | None, data: str) -> tuple[str, Any]:
    """An event's name and payload as traces hold them.

    The name is the ``event:`` field, else ``done`` for the ``[DONE]`` sentinel, else ``message``
    (the SSE default); the payload is parsed JSON, or the text itself when it is not JSON.
    """
    if data.startswith(_DONE):
        return (event or "done"), data
    try:
        payload: Any = orjson.loads(data)
    except orjson.JSONDecodeError:
        payload = data
    return (event or "message"), payload
