"""The native trace format: JSON Lines with a header, numbered entries and a footer.

Line 1 is a header (format, version, tool, SDK, HTTP library, creation time); then one line per
HTTP exchange or server-sent event, numbered by ``seq`` from 1 in file order; last, a footer with
the entry count, so that a cut-off trace is detected. `docs/trace-format.md` is the specification
and `schemas/trace.schema.json` its JSON Schema. This module holds the format's constants, the
thread-safe writer the recorder uses, and the native reader.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from typing import IO, Any

import orjson

from runmodel import RunmodelError

from .observations import Exchange, InputProblem, Item, Location, StreamEvent, TraceInfo

__all__ = [
    "FORMAT",
    "MASK",
    "MASKED_HEADERS",
    "REDACTED",
    "VERSION",
    "TraceWriteWarning",
    "TraceWriter",
    "json_line_problem",
    "mask_headers",
    "read_trace",
    "redact",
    "secret_values",
]

FORMAT = "runmodel-trace"
"""The header's ``format`` value."""

VERSION = 1
"""The format version this module writes and reads (a reader accepts versions up to this one)."""

MASK = "[masked]"
"""What a secret header's value is replaced with."""
_MASK_BYTES = MASK.encode()

REDACTED = "[redacted]"
"""What redacted message text and tool-call arguments/outputs are replaced with."""

MASKED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "openai-organization",
        "openai-project",
        "cookie",
        "set-cookie",
    }
)
"""Header names (lower case) whose values are always masked."""

# Keys whose string values are user content: message text, content parts, annotations' quoted
# text, refusals, tool-call arguments, tool outputs, code-interpreter input and logs.
_CONTENT_KEYS = frozenset(
    {"content", "text", "value", "refusal", "arguments", "output", "input", "logs"}
)


class TraceWriteWarning(RunmodelError, RuntimeWarning):
    """The recorder could not write part of a trace; the API call itself was not affected."""


def mask_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as a trace holds them: names lower-cased, repeats joined by ", ", secrets masked."""
    out: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        if key in MASKED_HEADERS:
            out[key] = MASK
        elif key in out:
            out[key] = f"{out[key]}, {value}"
        else:
            out[key] = value
    return out


_MIN_SECRET = 8  # shorter values are too likely to occur by chance to be masked everywhere


def secret_values(items: Iterable[tuple[str, str]]) -> set[str]:
    """The values of secret headers (and a bearer token alone): what a trace must not hold even
    where a server echoes it in a body or an error message."""
    out: set[str] = set()
    for name, value in items:
        if name.lower() in MASKED_HEADERS:
            value = value.strip()
            out.add(value)
            out.add(value.partition(" ")[2].strip())
    return {v for v in out if len(v) >= _MIN_SECRET}


def redact(value: Any) -> Any:
    """A copy of a JSON value with message text and tool-call arguments/outputs replaced.

    Only strings under content keys (``content``, ``text``, ``value``, ``refusal``,
    ``arguments``, ``output``, ``input``, ``logs``) change, each to `REDACTED`; structure, ids,
    statuses and timestamps are kept, so a redacted trace checks the same as the original.
    """
    if isinstance(value, dict):
        return {
            k: REDACTED if k in _CONTENT_KEYS and isinstance(v, str) else redact(v)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TraceWriter:
    """Writes one trace: the header at once, then numbered entries, then the footer on `close`.

    Thread-safe and cheap: an entry is serialised outside the lock; under it, it is numbered,
    written as one line and flushed. Writing never raises: a lost entry is counted (`lost`, and
    the footer's ``lost``), its number is still used (readers see the gap), and the first loss
    issues one `TraceWriteWarning`.
    """

    def __init__(
        self,
        target: str | os.PathLike[str] | IO[bytes],
        *,
        tool: str | None,
        sdk: str | None,
        http: str | None,
    ) -> None:
        if isinstance(target, (str, os.PathLike)):
            self._file: IO[bytes] = open(target, "wb")  # noqa: SIM115 (closed by close())
            self._owned = True
            self.name = os.fspath(target)
        else:
            self._file, self._owned = target, False
            self.name = str(getattr(target, "name", "<stream>"))
        self._lock = threading.Lock()
        self._secrets: tuple[bytes, ...] = ()
        self._seq = 0
        self._closed = False
        self._warned = False
        self.lost = 0
        """How many entries could not be written."""
        header = {
            "kind": "header",
            "format": FORMAT,
            "version": VERSION,
            "tool": tool,
            "sdk": sdk,
            "http": http,
            "created": _now_iso(),
        }
        self._put(orjson.dumps(header) + b"\n", "the header")

    @property
    def count(self) -> int:
        """How many entries have been numbered so far (written or lost)."""
        return self._seq

    @property
    def closed(self) -> bool:
        """Whether the footer has been written (later entries are lost)."""
        return self._closed

    def learn(self, secrets: Iterable[str]) -> None:
        """Mask these exact values wherever they appear in later entries (see `secret_values`)."""
        new = {s.encode() for s in secrets}.difference(self._secrets)
        if new:
            with self._lock:  # longest first: "Bearer sk-…" goes whole, not as "Bearer [masked]"
                merged = {*self._secrets, *new}
                self._secrets = tuple(sorted(merged, key=len, reverse=True))

    def write(self, kind: str, fields: dict[str, Any], what: str) -> int:
        """Number and write one entry (``kind`` is ``exchange`` or ``event``); return its seq.

        ``fields`` must not be empty; ``what`` names the entry in a warning if it is lost.
        """
        error: BaseException | str | None = None
        try:
            body: bytes | None = orjson.dumps(fields)
        except Exception as exc:  # an unserialisable value: lose this entry, keep recording
            body, error = None, exc
        if body is not None:
            for secret in self._secrets:
                if secret in body:  # a server echoed a key or an organisation
                    body = body.replace(secret, _MASK_BYTES)
        with self._lock:
            self._seq += 1
            seq = self._seq
            if self._closed:
                error = "the trace was already closed"
            elif body is not None:
                line = b'{"kind":"%b","seq":%d,%b\n' % (kind.encode(), seq, body[1:])
                try:
                    self._file.write(line)
                    self._file.flush()
                except Exception as exc:
                    error = exc
                else:
                    return seq
            self.lost += 1
            first = not self._warned
            self._warned = True
        if first:
            self._warn(f"{kind} seq {seq} ({what})", error)
        return seq

    def lose(self, what: str, error: BaseException | str) -> None:
        """Count an entry that could not even be numbered (e.g. a body that failed to decode)."""
        with self._lock:
            self.lost += 1
            first = not self._warned
            self._warned = True
        if first:
            self._warn(what, error)

    def close(self) -> None:
        """Write the footer and close the file (if this writer opened it); idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            footer = {"kind": "footer", "count": self._seq, "lost": self.lost, "closed": _now_iso()}
            ok = self._write_line(orjson.dumps(footer) + b"\n", "the footer")
            if self._owned:
                try:
                    self._file.close()
                except Exception as exc:
                    if ok:
                        self._warn("the end of the trace", exc)

    def _put(self, line: bytes, what: str) -> None:
        with self._lock:
            self._write_line(line, what)

    def _write_line(self, line: bytes, what: str) -> bool:
        try:
            self._file.write(line)
            self._file.flush()
        except Exception as exc:
            first = not self._warned
            self._warned = True
            if first:
                self._warn(what, exc)
            return False
        return True

    def _warn(self, what: str, error: BaseException | str | None) -> None:
        reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        warnings.warn(
            TraceWriteWarning(
                f"runmodel trace {self.name}: could not write {what}: {reason}. The API call was "
                "not affected; later entries are still attempted, and the footer counts the lost."
            ),
            stacklevel=4,
        )


# --------------------------------------------------------------------------------------------
# Reading


def _problem(file: str, line: int | None, code: str, message: str) -> InputProblem:
    return InputProblem(Location(file, line), code, message)


def json_line_problem(file: str, line: int, raw: bytes, exc: ValueError) -> InputProblem:
    """The problem for one line that is not JSON: cut off, not UTF-8, or malformed."""
    if not raw.endswith(b"\n"):
        return _problem(file, line, "input.truncated", "the last line is cut off mid-line")
    text = str(exc)
    if "UTF-8" in text or "utf-8" in text:
        return _problem(file, line, "input.bad_encoding", "the line is not valid UTF-8")
    return _problem(file, line, "input.malformed_json", f"not JSON: {text}")


_NUMBERS = frozenset({float, int, type(None)})  # a time field's types (bool is not among them)


def _number(value: Any) -> bool:
    return type(value) in _NUMBERS


def read_trace(lines: Iterable[bytes], file: str) -> Iterator[Item]:
    """Items of a native trace given its lines (with their line ends), in file order.

    Checks the header, the numbering (gaps, repeats) and the footer; every problem becomes an
    `InputProblem` and reading goes on. Repeated or backward ``seq`` lines are skipped.
    """
    loads = orjson.loads
    decode_error = orjson.JSONDecodeError
    lineno = 0
    last = 0  # highest seq read
    streams: set[int] = set()  # seqs of streamed exchanges
    first = True
    footer = 0  # line of the footer, 0 while none
    for raw in lines:
        lineno += 1
        try:
            obj = loads(raw)
        except decode_error as exc:
            if raw.isspace():
                continue
            first = False
            yield json_line_problem(file, lineno, raw, exc)
            continue
        if type(obj) is not dict:
            first = False
            yield _problem(
                file, lineno, "input.not_an_object", "a trace line must be a JSON object"
            )
            continue
        kind = obj.get("kind")
        if first:
            first = False
            if kind != "header":
                yield _problem(
                    file, lineno, "input.bad_header", "no header line: not written by a recorder"
                )
        elif kind == "header":
            yield _problem(file, lineno, "input.bad_header", "the header must be the first line")
        if footer:
            yield _problem(
                file, lineno, "input.bad_entry", f"a line after the footer (line {footer})"
            )
        if kind == "event":
            seq = obj.get("seq")
            if type(seq) is not int or seq != last + 1:
                yield _sequence_problem(file, lineno, seq, last)
                if type(seq) is not int or seq <= last:
                    continue
            last = seq
            yield from _event(obj, file, lineno, seq, streams)
        elif kind == "exchange":
            seq = obj.get("seq")
            if type(seq) is not int or seq != last + 1:
                yield _sequence_problem(file, lineno, seq, last)
                if type(seq) is not int or seq <= last:
                    continue
            last = seq
            item = _exchange(obj, Location(file, lineno), seq)
            if isinstance(item, InputProblem):
                yield item
                continue
            if item.streamed:
                streams.add(seq)
            yield item
        elif kind == "header":
            yield from _header(obj, file, lineno)
        elif kind == "footer":
            footer = lineno
            yield from _footer(obj, file, lineno, last)
        else:
            yield _problem(
                file,
                lineno,
                "input.bad_entry",
                f"unknown kind {kind!r} (expected header, exchange, event or footer)",
            )
    if not footer:
        yield _problem(
            file,
            lineno or None,
            "input.truncated",
            f"no footer: the trace is cut short after {last} entries (or was never closed)",
        )


def _event(
    obj: dict[str, Any], file: str, lineno: int, seq: int, streams: set[int]
) -> Iterator[Item]:
    """A trace's stream event line (its ``seq`` already read): the event, and what is wrong."""
    numbers = _NUMBERS
    exchange = obj.get("exchange")
    event = obj.get("event")
    wall = obj.get("wall")
    mono = obj.get("mono")
    if (
        type(event) is not str
        or "data" not in obj
        or type(wall) not in numbers
        or type(mono) not in numbers
    ):
        yield _problem(
            file,
            lineno,
            "input.bad_entry",
            "an event needs a string 'event', 'data', and numeric or null 'wall', 'mono'",
        )
        return
    if type(exchange) is not int or exchange not in streams:  # (a list is unhashable)
        yield _problem(
            file,
            lineno,
            "input.bad_entry",
            f"event seq {seq}: exchange {exchange!r} is not an earlier streamed exchange",
        )
        if type(exchange) is not int:
            exchange = None
    yield StreamEvent(Location(file, lineno), seq, exchange, wall, mono, event, obj["data"])


def _sequence_problem(file: str, lineno: int, seq: Any, last: int) -> InputProblem:
    if type(seq) is not int or seq < 1:
        return _problem(
            file, lineno, "input.bad_entry", f"'seq' must be an integer ≥ 1, not {seq!r}"
        )
    if seq <= last:
        return _problem(
            file,
            lineno,
            "input.bad_sequence",
            f"seq {seq} repeats or goes back (after {last}); the line is skipped",
        )
    missing = f"seq {last + 1}" if seq == last + 2 else f"seq {last + 1}–{seq - 1}"
    return _problem(file, lineno, "input.bad_sequence", f"{missing} missing before seq {seq}")


def _header(obj: dict[str, Any], file: str, lineno: int) -> Iterator[Item]:
    fmt, version = obj.get("format"), obj.get("version")
    if fmt != FORMAT or type(version) is not int:
        yield _problem(
            file,
            lineno,
            "input.bad_header",
            f"the header needs format {FORMAT!r} and an integer version (got {fmt!r}, {version!r})",
        )
        return
    if version > VERSION:
        yield _problem(
            file,
            lineno,
            "input.unsupported_version",
            f"trace version {version} is newer than this reader ({VERSION}); reading what it can",
        )
    fields = [obj.get(k) for k in ("tool", "sdk", "created")]
    tool, sdk, created = (v if isinstance(v, str) else None for v in fields)
    yield TraceInfo(Location(file, lineno), FORMAT, version, tool, sdk, created)


def _footer(obj: dict[str, Any], file: str, lineno: int, last: int) -> Iterator[Item]:
    count, lost = obj.get("count"), obj.get("lost", 0)
    if type(count) is not int or type(lost) is not int:
        yield _problem(
            file, lineno, "input.bad_entry", "the footer needs integer 'count' and 'lost'"
        )
        return
    if count != last:
        said = f" (the recorder reported {lost} lost)" if lost else ""
        yield _problem(
            file,
            lineno,
            "input.bad_sequence",
            f"the footer counts {count} entries but the last seq read is {last}{said}",
        )


def _exchange(obj: dict[str, Any], loc: Location, seq: int) -> Exchange | InputProblem:
    request, response = obj.get("request"), obj.get("response")
    wall, mono = obj.get("wall"), obj.get("mono")
    bad = None
    if type(request) is not dict:
        bad = "'request' must be an object"
    elif type(request.get("method")) is not str or type(request.get("path")) is not str:
        bad = "'request' needs string 'method' and 'path'"
    elif not (_number(wall) and _number(mono)):
        bad = "'wall' and 'mono' must be numbers or null"
    elif not _str_map(request.get("query", {})):
        bad = "'request.query' must map names to strings"
    elif response is not None and (
        type(response) is not dict
        or type(response.get("status")) is not int
        or not _str_map(response.get("headers", {}))
        or type(response.get("stream", False)) is not bool
    ):
        bad = "'response' must be null or an object with an integer 'status', string headers and a boolean 'stream'"  # noqa: E501
    if bad is not None:
        return InputProblem(loc, "input.bad_entry", f"exchange seq {seq}: {bad}")
    assert isinstance(request, dict)
    reply = response if response is not None else {}  # no response: a connection error
    return Exchange(
        loc,
        seq,
        wall,
        mono,
        request["method"],
        request["path"],
        dict(request.get("query", {})),
        request.get("body"),
        reply.get("status"),
        {k.lower(): v for k, v in reply.get("headers", {}).items()},
        reply.get("body"),
        reply.get("stream", False),
    )


def _str_map(value: Any) -> bool:
    return type(value) is dict and all(type(v) is str for v in value.values())
