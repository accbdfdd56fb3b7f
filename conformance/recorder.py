"""Record an openai client's HTTP traffic as a native trace, by wrapping its transport.

Nothing global is patched: `Recorder.wrap` wraps one transport, and `Recorder.client` /
`Recorder.http_client` build a client around a wrapped one. The same code serves both SDK majors
(openai 2.x on ``httpx``, 3.x on ``httpx2``): the HTTP library is a parameter, found from the
transport it wraps. The client receives exactly the bytes the server sent; streams are parsed for
the trace as they pass. Recording never breaks a call: a write that fails is counted and warned
about once (`TraceWriteWarning`), and recording goes on.

    with record("run.trace.jsonl") as rec:
        client = rec.client()
        ...
"""

from __future__ import annotations

import os
import sys
import time
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from functools import cache
from types import ModuleType, TracebackType
from typing import IO, TYPE_CHECKING, Any

import orjson

from .sse import SSEParser, decode_event
from .trace import (
    REDACTED,
    TraceWriter,
    TraceWriteWarning,
    mask_headers,
    redact,
    secret_values,
)

if TYPE_CHECKING:
    import openai

__all__ = ["Recorder", "TraceWriteWarning", "record"]

_TEXT_LIMIT = 65536  # non-JSON bodies are kept as text up to this many characters


def record(target: str | os.PathLike[str] | IO[bytes], *, redact: bool = False) -> Recorder:
    """Start a trace at ``target`` (a path, or a binary file object); use as a context manager.

    With ``redact=True`` message text and tool-call arguments/outputs are replaced in the trace
    by a placeholder of the same type; secret headers are masked either way.
    """
    return Recorder(target, redact=redact)


class Recorder:
    """One trace being recorded: wraps transports, builds clients, writes the footer on close."""

    def __init__(self, target: str | os.PathLike[str] | IO[bytes], *, redact: bool = False) -> None:
        from runmodel import __version__

        self.redact = redact
        sdk, http = _sdk_versions()
        self._writer = TraceWriter(target, tool=f"runmodel {__version__}", sdk=sdk, http=http)

    @property
    def name(self) -> str:
        """The trace's path (or the file object's name)."""
        return self._writer.name

    @property
    def count(self) -> int:
        """Entries numbered so far (exchanges and events, written or lost)."""
        return self._writer.count

    @property
    def lost(self) -> int:
        """Entries that could not be written."""
        return self._writer.lost

    def wrap(self, transport: Any) -> Any:
        """A transport of the same HTTP library that records through this recorder.

        ``transport`` is any ``httpx``/``httpx2`` sync or async transport (``HTTPTransport``,
        ``MockTransport``, ...); the result handles whichever of the two the inner one does.
        """
        http = _http_module(transport)
        return _classes(http)[0](transport, self, http)

    def http_client(self, transport: Any = None, **kwargs: Any) -> Any:
        """The SDK's default sync HTTP client (its timeouts, limits, redirects) on a recorded
        transport; ``transport`` defaults to a plain ``HTTPTransport`` of the SDK's library."""
        import openai

        if transport is None:
            transport = _sdk_http().HTTPTransport(limits=openai.DEFAULT_CONNECTION_LIMITS)
        return openai.DefaultHttpxClient(transport=self.wrap(transport), **kwargs)

    def async_http_client(self, transport: Any = None, **kwargs: Any) -> Any:
        """As `http_client`, for ``AsyncOpenAI``."""
        import openai

        if transport is None:
            transport = _sdk_http().AsyncHTTPTransport(limits=openai.DEFAULT_CONNECTION_LIMITS)
        return openai.DefaultAsyncHttpxClient(transport=self.wrap(transport), **kwargs)

    def client(self, *, transport: Any = None, **kwargs: Any) -> openai.OpenAI:
        """An ``openai.OpenAI`` whose traffic is recorded; ``kwargs`` go to ``OpenAI(...)``."""
        import openai

        return openai.OpenAI(http_client=self.http_client(transport), **kwargs)

    def async_client(self, *, transport: Any = None, **kwargs: Any) -> openai.AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` whose traffic is recorded."""
        import openai

        return openai.AsyncOpenAI(http_client=self.async_http_client(transport), **kwargs)

    def close(self) -> None:
        """Write the footer and close the trace; entries arriving later are lost (and warned)."""
        self._writer.close()

    def __enter__(self) -> Recorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- what the transport and the taps call; none of these raise --------------------------

    def _request(self, request: Any, body: bytes | None) -> _Exchange:
        wall, mono = time.time(), time.monotonic()
        url = request.url
        what = f"{request.method} {url.path}"
        try:
            items = request.headers.multi_items()
            self._writer.learn(secret_values(items))
            entry: dict[str, Any] = {
                "method": request.method,
                "path": url.path,
                "query": {k: url.params[k] for k in url.params},
                "headers": mask_headers(items),
            }
            self._body(entry, body)
        except Exception as exc:  # a request we cannot describe is still sent
            entry = {"method": str(request.method), "path": str(url.path), "query": {}}
            entry.update(headers={}, body=None, note=f"request not recorded: {exc!r}")
        return _Exchange(self, what, wall, mono, entry)

    def _body(self, entry: dict[str, Any], body: bytes | None) -> None:
        """Put a body into a request or response entry: JSON when it is JSON, else text."""
        entry["body"] = None
        if not body:
            return
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            text = body.decode("utf-8", "replace")
            entry["body_text"] = REDACTED if self.redact else text[:_TEXT_LIMIT]
            return
        entry["body"] = redact(value) if self.redact else value

    def _write(self, kind: str, fields: dict[str, Any], what: str) -> int:
        return self._writer.write(kind, fields, what)


class _Exchange:
    """One exchange in flight: the request entry, then the response and (for streams) events."""

    __slots__ = (
        "_buf",
        "_decoder",
        "_done",
        "_parser",
        "_recorder",
        "_response",
        "_seq",
        "mono",
        "request",
        "wall",
        "what",
    )

    def __init__(
        self, recorder: Recorder, what: str, wall: float, mono: float, request: dict[str, Any]
    ) -> None:
        self._recorder = recorder
        self.what, self.wall, self.mono, self.request = what, wall, mono, request
        self._done = False
        self._buf = bytearray()
        self._parser: SSEParser | None = None
        self._decoder: Callable[[bytes], bytes] | None = None
        self._response: dict[str, Any] = {}
        self._seq = 0

    def failed(self, exc: BaseException) -> None:
        """No response came: record the request with the error."""
        self._done = True
        fields = self._fields(None)
        fields["error"] = f"{type(exc).__name__}: {exc}"
        self._recorder._write("exchange", fields, self.what)

    def respond(self, response: Any, http: ModuleType, sync: bool) -> Any:
        """Record the response head; return the response, its stream tapped when not yet read."""
        try:
            headers = response.headers
            streamed = headers.get("content-type", "").startswith("text/event-stream")
            self._response = {
                "status": response.status_code,
                "headers": mask_headers(headers.multi_items()),
                "body": None,
                "stream": streamed,
            }
            try:
                content: bytes | None = response.content  # already read (e.g. a mock's bytes)
            except http.ResponseNotRead:
                content = None
                self._decoder = _decoder(headers.get("content-encoding", ""), self._response)
            if streamed:
                self._parser = SSEParser()
                self._seq = self._recorder._write(
                    "exchange", self._fields(self._response), self.what
                )
            if content is not None:
                self.feed(content)
                self.finish()
                return response
        except Exception as exc:
            self._lost(exc)
            return response
        tap = _classes(http)[1 if sync else 2]
        response.stream = tap(response.stream, self)
        return response

    def feed(self, chunk: bytes) -> None:
        """Bytes the client received (never raises)."""
        if self._done:
            return
        try:
            if self._decoder is not None:
                chunk = self._decoder(chunk)
            if self._parser is None:
                self._buf += chunk
            else:
                for event, data in self._parser.feed(chunk):
                    self._event(event, data)
        except Exception as exc:
            self._lost(exc)

    def finish(self) -> None:
        """The body ended (or was closed): write what is pending (never raises)."""
        if self._done:
            return
        self._done = True
        try:
            if self._decoder is not None:
                self.feed(b"")  # flush the decompressor
            if self._parser is not None:
                self._parser.finish()
                return
            self._recorder._body(self._response, bytes(self._buf))
            self._buf.clear()
            self._recorder._write("exchange", self._fields(self._response), self.what)
        except Exception as exc:
            self._lost(exc)

    def _event(self, event: str | None, data: str) -> None:
        name, payload = decode_event(event, data)
        fields = {
            "exchange": self._seq,
            "wall": time.time(),
            "mono": time.monotonic(),
            "event": name,
            "data": redact(payload) if self._recorder.redact else payload,
        }
        self._recorder._write("event", fields, f"{name} of {self.what}")

    def _fields(self, response: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "wall": self.wall,
            "mono": self.mono,
            "request": self.request,
            "response": response,
            "duration": round(time.monotonic() - self.mono, 6),
        }

    def _lost(self, exc: Exception) -> None:
        self._done = True
        self._recorder._writer.lose(self.what, exc)


def _decoder(encoding: str, response: dict[str, Any]) -> Callable[[bytes], bytes] | None:
    """Undo gzip/deflate for the trace (the client still gets the raw bytes); else note it."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip", "deflate"):
        inflater = zlib.decompressobj(47 if encoding != "deflate" else 15)

        def inflate(chunk: bytes) -> bytes:
            return inflater.decompress(chunk) if chunk else inflater.flush()

        return inflate
    response["note"] = f"body not recorded: content-encoding {encoding!r} is not decoded"

    def drop(chunk: bytes) -> bytes:
        return b""

    return drop


class _RecordingTransport:
    """Records every request through the recorder, then delegates to the wrapped transport."""

    def __init__(self, inner: Any, recorder: Recorder, http: ModuleType) -> None:
        self._inner, self._recorder, self._http = inner, recorder, http

    def handle_request(self, request: Any) -> Any:
        try:
            body: bytes | None = request.read()
        except Exception:
            body = None
        exchange = self._recorder._request(request, body)
        try:
            response = self._inner.handle_request(request)
        except BaseException as exc:
            exchange.failed(exc)
            raise
        return exchange.respond(response, self._http, sync=True)

    async def handle_async_request(self, request: Any) -> Any:
        try:
            body: bytes | None = await request.aread()
        except Exception:
            body = None
        exchange = self._recorder._request(request, body)
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException as exc:
            exchange.failed(exc)
            raise
        return exchange.respond(response, self._http, sync=False)

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        await self._inner.aclose()


class _SyncTap:
    """A response stream that shows every chunk to the exchange as the client reads it."""

    def __init__(self, inner: Any, exchange: _Exchange) -> None:
        self._inner, self._exchange = inner, exchange

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._exchange.feed(chunk)
            yield chunk
        self._exchange.finish()

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._exchange.finish()


class _AsyncTap:
    """The async twin of `_SyncTap`."""

    def __init__(self, inner: Any, exchange: _Exchange) -> None:
        self._inner, self._exchange = inner, exchange

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._exchange.feed(chunk)
            yield chunk
        self._exchange.finish()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._exchange.finish()


@cache
def _classes(http: ModuleType) -> tuple[type[Any], type[Any], type[Any]]:
    """The recording transport and the two taps, as subclasses of ``http``'s own base classes."""
    base = {"__module__": __name__}
    return (
        type(
            "RecordingTransport",
            (_RecordingTransport, http.BaseTransport, http.AsyncBaseTransport),
            base,
        ),
        type("_SyncTap", (_SyncTap, http.SyncByteStream), base),
        type("_AsyncTap", (_AsyncTap, http.AsyncByteStream), base),
    )


_LIBRARIES = ("httpx2", "httpx")  # the HTTP libraries of openai 3.x and 2.x


def _http_module(transport: Any) -> ModuleType:
    """The HTTP library (``httpx`` or ``httpx2``) a transport belongs to.

    Found by ``isinstance`` on the libraries already imported: class ``__module__`` names are
    not reliable (openai 3.x renames re-exported classes to ``openai``).
    """
    for name in _LIBRARIES:
        module = sys.modules.get(name)
        if module is not None and isinstance(
            transport, (module.BaseTransport, module.AsyncBaseTransport)
        ):
            return module
    raise TypeError(f"expected an httpx or httpx2 transport, got {type(transport).__qualname__}")


def _sdk_http() -> ModuleType:
    """The HTTP library the installed openai SDK is built on."""
    import openai

    for name in _LIBRARIES:
        module = sys.modules.get(name)
        if module is not None and issubclass(openai.DefaultHttpxClient, module.Client):
            return module
    raise RuntimeError("cannot tell which HTTP library the openai SDK uses")


def _sdk_versions() -> tuple[str | None, str | None]:
    try:
        import openai

        http = _sdk_http()
    except Exception:
        return None, None
    return f"openai {openai.__version__}", f"{http.__name__} {getattr(http, '__version__', '?')}"
