"""Recorded HTTP exchanges, from each tool's entries, all through one path (`exchange_items`).

VCR.py, Ruby VCR, Betamax, OkReplay, go-vcr, HAR, Polly, SDK test-proxy records, ExVCR and nock
each store a request and its response their own way; each entry reader finds the method, URL,
bodies, status and headers, and `exchange_items` makes the items (events of a stream included).
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from ..observations import Exchange, InputProblem, Item, Location, StreamEvent
from ..sse import decode_event, parse_sse

__all__ = ["ENTRY_READERS", "exchange_items", "vcr_interaction"]


def exchange_items(
    loc: Location,
    wall: float | None,
    method: str,
    url: str,
    request_body: bytes | str | None,
    status: int | None,
    headers: dict[str, str],
    body: bytes | str | None,
) -> Iterator[Item]:
    try:
        split = urlsplit(url)
    except ValueError as exc:  # e.g. an unclosed IPv6 bracket
        yield InputProblem(loc, "input.bad_entry", f"the request URL does not parse: {exc}")
        return
    query: dict[str, str] = {}
    for k, v in parse_qsl(split.query, keep_blank_values=True):
        query.setdefault(k, v)
    streamed = headers.get("content-type", "").startswith("text/event-stream")
    if body and not streamed:
        text = body if isinstance(body, str) else body[:64].decode("utf-8", "replace")
        streamed = text.lstrip().startswith(("event:", "data:"))
    yield Exchange(
        loc,
        None,
        wall,
        None,
        method.upper(),
        split.path,
        query,
        _json_body(request_body),
        status,
        headers,
        None if streamed else _json_body(body),
        streamed,
    )
    if isinstance(body, bytes):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            message = f"the response body is not UTF-8 (byte {exc.start}); read with U+FFFD"
            yield InputProblem(loc, "input.bad_encoding", message)
    if streamed and body:
        for n, (event, data) in enumerate(parse_sse(body)):
            name, payload = decode_event(event, data)
            where = Location(
                loc.file, loc.line, f"{loc.where} event {n}" if loc.where else f"event {n}"
            )
            if type(payload) is str and (bad := _unreadable(data)) is not None:
                yield InputProblem(where, "input.malformed_json", f"{name} event: {bad}")
            yield StreamEvent(where, None, 0, wall, None, name, payload)


def _unreadable(data: str) -> str | None:
    """Why the SDK could not read an event's data (it parses all but ``[DONE]`` as JSON)."""
    if data.startswith("[DONE]"):
        return None
    try:
        orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return f"its data is not JSON ({exc}); the SDK cannot read it"
    return None


def _json_body(body: bytes | str | None) -> Any:
    if body is None or body in ("", b""):
        return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body if isinstance(body, str) else body.decode("utf-8", "replace")


def _inflate(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if encoding in ("gzip", "x-gzip", "deflate"):
        try:
            return zlib.decompress(body, 47 if encoding != "deflate" else 15)
        except zlib.error:
            return body
    return body


def vcr_interaction(inter: Any, loc: Location) -> Iterator[Item]:
    """A VCR-style interaction: VCR.py, Ruby VCR, Betamax, OkReplay and go-vcr (v1 and v2)."""
    if not isinstance(inter, dict):
        yield InputProblem(loc, "input.not_an_object", "an interaction must be a mapping")
        return
    request, response = inter.get("request"), inter.get("response")
    uri = request.get("uri", request.get("url")) if isinstance(request, dict) else None
    if not isinstance(request, dict) or not isinstance(uri, str):
        yield InputProblem(
            loc, "input.bad_entry", "an interaction needs a request with a 'uri' (or 'url')"
        )
        return
    method = request.get("method")
    if not isinstance(method, str):
        yield InputProblem(loc, "input.bad_entry", "the request needs a string 'method'")
        return
    ok, request_body = _vcr_body(request.get("body"))
    if request_body is None and "parsed_body" in request:  # pydantic-ai's cassettes: JSON kept
        request_body = _parsed_body(request["parsed_body"])
    if not ok:
        yield InputProblem(loc, "input.bad_entry", "the request body must be a string")
        return
    if not isinstance(response, dict):
        yield InputProblem(loc, "input.bad_entry", "an interaction needs a 'response' mapping")
        return
    status = response.get("status")
    code = status.get("code") if isinstance(status, dict) else status
    if type(code) is not int and type(response.get("code")) is int:  # go-vcr: "200 OK" and 200
        code = response["code"]
    headers = _vcr_headers(response.get("headers"))
    ok, body = _vcr_body(response.get("body"))
    if body is None and "parsed_body" in response:
        body = _parsed_body(response["parsed_body"])
    if type(code) is not int or headers is None or not ok:
        yield InputProblem(
            loc,
            "input.bad_entry",
            "the response needs an integer status code, string headers and a string body",
        )
        return
    if isinstance(body, bytes):
        body = _inflate(body, headers.get("content-encoding", ""))
    yield from exchange_items(loc, None, method, uri, request_body, code, headers, body)


def _parsed_body(value: Any) -> bytes | str | None:
    """A body a cassette keeps as its parsed JSON (``parsed_body``, pydantic-ai's serializer),
    as the bytes it stands for; text kept as a string stays text."""
    if value is None or isinstance(value, str):
        return value
    try:
        return orjson.dumps(value)
    except (orjson.JSONEncodeError, TypeError):  # (YAML can hold what JSON cannot: kept out)
        return None


def _vcr_body(body: Any) -> tuple[bool, bytes | str | None]:
    """A VCR body (a string, bytes, ``{string: ...}`` or Ruby VCR's and Betamax's
    ``{base64_string: ...}``), and whether it was one of those."""
    if isinstance(body, dict):
        if "base64_string" in body and isinstance(body["base64_string"], str):
            try:
                return True, base64.b64decode(body["base64_string"])
            except (binascii.Error, ValueError):
                return False, None
        body = body.get("string")
    if body is None or isinstance(body, (str, bytes)):
        return True, body
    return False, None


def _value_body(body: Any, headers: dict[str, str]) -> bytes | str | None:
    """A body stored as a JSON value (test proxy, nock): text as it is, a list of text lines (an
    event stream, or text kept line by line) joined, and any other value as its JSON."""
    if body is None or isinstance(body, str):
        return body
    if (
        isinstance(body, list)
        and body
        and all(type(line) is str for line in body)
        and "json" not in headers.get("content-type", "")
    ):
        return "".join(body)
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError as exc:  # nested deeper than orjson writes
        raise ValueError(f"a body that cannot be read as JSON: {exc}") from exc


def _proxy_entry(entry: Any, loc: Location) -> Iterator[Item]:
    """An entry of an SDK test-proxy session record (``{"Entries": [...]}``)."""
    if not isinstance(entry, dict):
        yield InputProblem(loc, "input.not_an_object", "an entry must be an object")
        return
    method, uri, code = entry.get("RequestMethod"), entry.get("RequestUri"), entry.get("StatusCode")
    if not isinstance(method, str) or not isinstance(uri, str) or type(code) is not int:
        yield InputProblem(
            loc,
            "input.bad_entry",
            "an entry needs a string 'RequestMethod' and 'RequestUri' and an integer 'StatusCode'",
        )
        return
    request_headers = _vcr_headers(entry.get("RequestHeaders"))
    headers = _vcr_headers(entry.get("ResponseHeaders"))
    if headers is None or request_headers is None:
        yield InputProblem(
            loc, "input.bad_entry", "headers must map names to strings or lists of strings"
        )
        return
    try:
        request_body = _value_body(entry.get("RequestBody"), request_headers)
        body = _value_body(entry.get("ResponseBody"), headers)
    except ValueError as exc:
        yield InputProblem(loc, "input.bad_entry", str(exc))
        return
    yield from exchange_items(loc, None, method, uri, request_body, code, headers, body)


def _exvcr_pair(pair: Any, loc: Location) -> Iterator[Item]:
    """An ExVCR interaction: ``{"request": {url, method, body}, "response": {status_code}}``."""
    if not isinstance(pair, dict):
        yield InputProblem(loc, "input.not_an_object", "an interaction must be an object")
        return
    request, response = pair.get("request"), pair.get("response")
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("url"), str)
        or not isinstance(request.get("method"), str)
        or not isinstance(response, dict)
        or type(response.get("status_code")) is not int
    ):
        yield InputProblem(
            loc,
            "input.bad_entry",
            "an interaction needs a request with 'url' and 'method', and a response with an "
            "integer 'status_code'",
        )
        return
    headers = _vcr_headers(response.get("headers"))
    request_body, body = request.get("body"), response.get("body")
    if (
        headers is None
        or not isinstance(request_body, (str, type(None)))
        or not isinstance(body, (str, type(None)))
    ):
        yield InputProblem(
            loc, "input.bad_entry", "headers must be strings and bodies strings or null"
        )
        return
    yield from exchange_items(
        loc,
        None,
        request["method"],
        request["url"],
        request_body,
        response["status_code"],
        headers,
        body,
    )


def _nock_entry(entry: Any, loc: Location) -> Iterator[Item]:
    """A nock recording: ``{scope, method, path, body, status, response, rawHeaders}``."""
    if not isinstance(entry, dict):
        yield InputProblem(loc, "input.not_an_object", "a recorded call must be an object")
        return
    scope, method, path = entry.get("scope"), entry.get("method"), entry.get("path")
    status = entry.get("status", 200)
    if (
        not isinstance(scope, str)
        or not isinstance(method, str)
        or not isinstance(path, str)
        or type(status) is not int
    ):
        yield InputProblem(
            loc,
            "input.bad_entry",
            "a recorded call needs string 'scope', 'method' and 'path' and an integer 'status'",
        )
        return
    raw = entry.get("rawHeaders")
    headers = _raw_headers(raw) if raw is not None else _vcr_headers(entry.get("headers"))
    if headers is None:
        yield InputProblem(
            loc,
            "input.bad_entry",
            "headers must be a mapping of strings, or rawHeaders name, value, ... strings",
        )
        return
    try:
        request_body = _value_body(entry.get("body"), {})
        body = _nock_body(entry.get("response"), entry.get("responseIsBinary") is True, headers)
    except ValueError as exc:
        yield InputProblem(loc, "input.bad_entry", str(exc))
        return
    url = scope.rstrip("/") + (path if path.startswith("/") else "/" + path)
    yield from exchange_items(loc, None, method, url, request_body, status, headers, body)


def _vcr_headers(headers: Any) -> dict[str, str] | None:
    if headers is None:
        return {}
    if not isinstance(headers, dict):
        return None
    out: dict[str, str] = {}
    for name, value in headers.items():
        values = value if isinstance(value, list) else [value]
        if not isinstance(name, str) or not all(isinstance(v, str) for v in values):
            return None
        out[name.lower()] = ", ".join(values)
    return out


def _har_entry(entry: Any, loc: Location) -> Iterator[Item]:
    if not isinstance(entry, dict):
        yield InputProblem(loc, "input.not_an_object", "a HAR entry must be an object")
        return
    request, response = entry.get("request"), entry.get("response")
    if (
        not isinstance(request, dict)
        or not isinstance(request.get("method"), str)
        or not isinstance(request.get("url"), str)
    ):
        yield InputProblem(
            loc, "input.bad_entry", "a HAR entry needs a request with 'method' and 'url'"
        )
        return
    if not isinstance(response, dict) or type(response.get("status")) is not int:
        yield InputProblem(
            loc, "input.bad_entry", "a HAR entry needs a response with an integer 'status'"
        )
        return
    headers = _har_headers(response.get("headers"))
    post = request.get("postData")
    request_body = post.get("text") if isinstance(post, dict) else None
    content = response.get("content")
    body: bytes | str | None = None
    if isinstance(content, dict) and isinstance(content.get("text"), str):
        body = content["text"]
        if content.get("encoding") == "base64":
            try:
                body = base64.b64decode(body, validate=True)
            except (binascii.Error, ValueError):
                yield InputProblem(
                    loc, "input.bad_entry", "response.content.text is not valid base64"
                )
                return
    if headers is None or not isinstance(request_body, (str, type(None))):
        yield InputProblem(
            loc,
            "input.bad_entry",
            "HAR headers must be name/value objects and postData.text a string",
        )
        return
    status = response["status"] or None  # HAR uses 0 for "no response"
    yield from exchange_items(
        loc,
        _har_time(entry.get("startedDateTime")),
        request["method"],
        request["url"],
        request_body,
        status,
        headers,
        body,
    )


def _har_headers(headers: Any) -> dict[str, str] | None:
    if headers is None:
        return {}
    if not isinstance(headers, list):
        return None
    pairs = []
    for h in headers:
        if not isinstance(h, dict) or not isinstance(h.get("name"), str):
            return None
        if not isinstance(h.get("value"), str):
            return None
        pairs.append((h["name"].lower(), h["value"]))
    out: dict[str, str] = {}
    for name, value in pairs:
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _har_time(value: Any) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def _raw_headers(raw: Any) -> dict[str, str] | None:
    """Node's ``rawHeaders``: ``[name, value, name, value, ...]``, repeated names joined."""
    if not isinstance(raw, list) or len(raw) % 2 or not all(type(h) is str for h in raw):
        return None
    out: dict[str, str] = {}
    for name, value in zip(raw[::2], raw[1::2], strict=True):
        name = name.lower()
        out[name] = f"{out[name]}, {value}" if name in out else value
    return out


def _nock_body(response: Any, binary: bool, headers: dict[str, str]) -> bytes | str | None:
    """A nock response: a JSON value or text, or hex (chunks) when binary or compressed."""
    chunks = isinstance(response, list) and response and all(type(c) is str for c in response)
    if (binary and type(response) is str) or (chunks and (binary or "content-encoding" in headers)):
        try:
            data = bytes.fromhex(response if type(response) is str else "".join(response))
        except ValueError:
            raise ValueError("a binary response must be hex") from None
        return _inflate(data, headers.get("content-encoding", ""))
    return _value_body(response, headers)


ENTRY_READERS = {
    "har": _har_entry,
    "polly": _har_entry,
    "vcr-json": vcr_interaction,
    "ruby-vcr-json": vcr_interaction,
    "betamax-json": vcr_interaction,
    "test-proxy": _proxy_entry,
    "exvcr": _exvcr_pair,
    "nock": _nock_entry,
}
"""How each JSON document format's entries become items: all through `exchange_items`."""
