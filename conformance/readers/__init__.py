"""Read any supported recording into observation items: `read(path)` is the one entry point.

The format is chosen by content, not by file name: a native trace (JSON Lines with a runmodel
header); cassettes of VCR.py, Ruby VCR, Betamax, OkReplay and go-vcr (YAML or JSON); SDK
test-proxy session records; ExVCR and nock recordings; HAR 1.2 archives and Polly recordings; a
JSON array or JSON Lines of bare run / run-step / message objects; or a log with the SDK's
printed objects (``Run(id='run_…', status='queued', …)``). Every recorded exchange becomes items
by one path (`exchange_items`, in `_http`). Every item carries its file and line. Bad input becomes
`InputProblem` items and reading goes on; no exception escapes `read`. YAML is loaded with the
safe loader only and printed objects are parsed with `ast`, never evaluated.

One module a family of formats: `_bare` (bare objects), `_json` (JSON documents), `_yaml` (YAML
cassettes), `_http` (each tool's entries, to exchanges), `_printed` (logs); `_common` is shared.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import orjson

from ..decode import Shape
from ..observations import InputProblem, Item, Location, TraceInfo
from ..trace import read_trace
from ._bare import Observed, read_objects_jsonl
from ._common import OBJECT_KEYS, SNAPSHOT_OBJECTS, SNIFF, numbered
from ._json import guess_json, json_format, read_json_document
from ._printed import read_printed
from ._yaml import read_yaml

__all__ = ["FORMATS", "PROBLEM_CODES", "SHOWN", "SNAPSHOT_OBJECTS", "detect", "read"]

FORMATS = (
    "runmodel-trace",
    "vcr-yaml",
    "vcr-json",
    "ruby-vcr-yaml",
    "ruby-vcr-json",
    "betamax-json",
    "okreplay-yaml",
    "go-vcr-yaml",
    "test-proxy",
    "exvcr",
    "nock",
    "har",
    "polly",
    "objects-json",
    "objects-jsonl",
    "objects-printed",
)
"""The formats `read` recognises, as named in `detect` and in each `TraceInfo`."""

PROBLEM_CODES = {
    "input.io_error": "the file could not be opened or read",
    "input.empty": "the file is empty or blank",
    "input.binary": "the file is binary (or compressed), not text",
    "input.bad_encoding": "text that is not UTF-8",
    "input.unknown_format": "no supported format recognised",
    "input.malformed_json": "JSON that does not parse",
    "input.malformed_yaml": "YAML that does not parse, or uses tags the safe loader refuses",
    "input.malformed_repr": "a printed object that does not parse",
    "input.truncated": "the file ends early: no footer, a cut line, an unclosed document",
    "input.bad_sequence": "sequence numbers repeat, go back, or skip",
    "input.not_an_object": "a value that should be an object is not",
    "input.unknown_object": "an object that is not a run, run step or message",
    "input.bad_entry": "an entry with missing fields or fields of the wrong type",
    "input.bad_header": "a trace header that is missing, misplaced or wrong",
    "input.unsupported_version": "a trace written by a newer version of the format",
    "input.internal_error": "a reader bug; please report it with the file",
}
"""Every `InputProblem` code a reader emits, with what it means."""

_BUFFER = 1 << 20
_NATIVE = re.compile(rb'"kind"\s*:\s*"(?:header|exchange|event|footer)"|"runmodel-trace"')
_YAML_CASSETTE = re.compile(rb"^(?:http_)?interactions\s*:", re.M)
_TEXT_CONTROLS = frozenset(b"\t\n\r\f\x1b")


def read(
    path: str | Path,
    *,
    shape: Shape | None = None,
    repeated: Callable[[dict[str, Any]], bool] | None = None,
    observed: Observed | None = None,
    select: Callable[[bytes], bool] | None = None,
) -> Iterator[Item]:
    """Every item of a recording, in observation order; the format is detected from content.

    Treat items as read-only: a bare object's line repeated may yield the object yielded before.
    With a `shape` (`conformance.decode.CHECKED`: what the checker reads), bare objects in JSON
    Lines come as that shape decodes them, only its fields, each line it cannot hold parsed whole.
    `repeated(obj)` is asked about each bare object whose JSON Lines line repeats, byte for byte,
    the line it came from: True means the caller took that observation itself (no `Snapshot` is
    made for it; its ``seq`` is still counted). `observed(obj, loc, seq)` is offered every other
    bare object of JSON Lines before a `Snapshot` is made of it: True means the caller took it
    (checked it in place, in order: everything read before it was yielded already).
    `select(line)`, for JSON Lines of bare objects only, is asked about each line first: False
    skips it as one snapshot not read (its line and ``seq`` counted).
    """
    file = str(path)
    try:
        # (a large buffer: line iteration is several times faster than with the default one)
        f = open(path, "rb", buffering=_BUFFER)  # noqa: SIM115 (closed below, also on early stop)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = getattr(exc, "strerror", None) or exc
        yield InputProblem(Location(file), "input.io_error", f"cannot open: {reason}")
        return
    try:
        yield from _summarised(_read_open(f, file, shape, repeated, observed, select))
    except OSError as exc:
        yield InputProblem(Location(file), "input.io_error", f"cannot read: {exc.strerror or exc}")
    except Exception as exc:  # a bug of ours must not become the user's traceback
        yield InputProblem(
            Location(file), "input.internal_error", f"reader failed: {type(exc).__name__}: {exc}"
        )
    finally:
        f.close()


SHOWN = 5
"""Problems of one kind listed in full; the rest of a flood of them is summarised in one."""

_NUMBERS = re.compile(r"\d+")


def _summarised(items: Iterable[Item]) -> Iterator[Item]:
    """The items, with problems of one kind (code, and message but for its numbers) after the
    first `SHOWN` held back, and summarised at the end: how many, first and last line."""
    problem = InputProblem
    kinds: dict[tuple[str, str], list[Any]] = {}  # kind -> [count, first held back, last]
    for item in items:
        if type(item) is problem:
            key = (item.code, _NUMBERS.sub("#", item.message))
            seen = kinds.get(key)
            if seen is None:
                kinds[key] = seen = [0, None, None]
            seen[0] += 1
            if seen[0] > SHOWN:
                seen[1] = seen[1] or item
                seen[2] = item
                continue
        yield item
    for count, first, last in kinds.values():
        if count > SHOWN:
            lines = (
                f"from line {first.loc.line:,} to line {last.loc.line:,}"
                if first.loc.line is not None and last.loc.line is not None
                else f"from {first.loc} to {last.loc}"
            )
            yield InputProblem(
                first.loc,
                first.code,
                f"{count - SHOWN:,} more like the {SHOWN} above ({count:,} in all), {lines}: "
                f"{first.message}",
            )


def detect(path: str | Path) -> str | None:
    """The format `read` would use for a file (one of `FORMATS`), or None when it has none."""
    for item in read(path):
        if isinstance(item, TraceInfo):
            return item.format
        if isinstance(item, InputProblem) and item.code in (
            "input.io_error",
            "input.empty",
            "input.binary",
            "input.unknown_format",
        ):
            return None
    return None


# --------------------------------------------------------------------------------------------
# Detection


def _read_open(
    f: IO[bytes],
    file: str,
    shape: Shape | None = None,
    repeated: Callable[[dict[str, Any]], bool] | None = None,
    observed: Observed | None = None,
    select: Callable[[bytes], bool] | None = None,
) -> Iterable[Item]:
    """Detect the format and return the reader's items (no generator layer of its own)."""
    head = f.read(SNIFF)
    start = 0
    while True:  # skip leading blank space, however long
        stripped = head.lstrip()
        if stripped or len(head) < SNIFF:
            break
        start += len(head)
        head = f.read(SNIFF)
    bom = 3 if start == 0 and head.startswith(b"\xef\xbb\xbf") else 0
    if bom:
        stripped = head[3:].lstrip()
    if not stripped:
        return [InputProblem(Location(file), "input.empty", "the file is empty")]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        message = "the file is UTF-16; save it as UTF-8"
        return [InputProblem(Location(file, 1), "input.bad_encoding", message)]
    if _binary(head):
        kind = " (gzip-compressed: decompress it first)" if head[:2] == b"\x1f\x8b" else ""
        return [InputProblem(Location(file), "input.binary", f"the file is binary{kind}")]
    f.seek(bom)
    first = stripped[:1]
    if first == b"{":
        return _read_brace(f, file, head, bom, shape, repeated, observed, select)
    if first == b"[":
        return read_json_document(f, file, guess_json(head[bom:]))
    if _YAML_CASSETTE.search(head):
        return read_yaml(f.read(), file)
    return numbered(read_printed(f, file, stripped[:200]))


def _binary(head: bytes) -> bool:
    if b"\0" in head:
        return True
    sample = head[:4096]
    controls = sum(1 for b in sample if b < 32 and b not in _TEXT_CONTROLS)
    return controls * 10 > len(sample)


def _read_brace(
    f: IO[bytes],
    file: str,
    head: bytes,
    bom: int,
    shape: Shape | None,
    repeated: Callable[[dict[str, Any]], bool] | None = None,
    observed: Observed | None = None,
    select: Callable[[bytes], bool] | None = None,
) -> Iterable[Item]:
    """A file starting with ``{``: JSON Lines (native or bare objects) or one JSON document."""
    lines = _nonblank_lines(f, 2)
    f.seek(bom)
    first = _loads(lines[0]) if lines else None
    if isinstance(first, dict):
        if _is_native(first):
            return read_trace(f, file)
        fmt = json_format(first)[0]
        if fmt != "objects-json" or (len(lines) == 1 and not first.keys() & OBJECT_KEYS):
            return read_json_document(f, file, fmt)
        return read_objects_jsonl(f, file, shape, repeated, observed, select)
    if _NATIVE.search(head):
        return read_trace(f, file)
    if len(lines) > 1 and isinstance(_loads(lines[1]), dict):
        return read_objects_jsonl(f, file, shape, repeated, observed, select)
    return read_json_document(f, file, guess_json(head))


def _is_native(obj: dict[str, Any]) -> bool:
    kind = obj.get("kind")
    return obj.get("format") == "runmodel-trace" or (type(kind) is str and kind in _TRACE_KINDS)


_TRACE_KINDS = frozenset({"header", "exchange", "event", "footer"})


def _nonblank_lines(f: IO[bytes], n: int) -> list[bytes]:
    out: list[bytes] = []
    for line in f:
        if not line.isspace():
            out.append(line)
            if len(out) == n:
                break
    return out


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
