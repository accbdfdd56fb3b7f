"""``runmodel record``: a recording reverse proxy on loopback, for clients in any language.

Point a client's ``OPENAI_BASE_URL`` at the proxy: each request goes to the one upstream fixed
at start, and every exchange and streamed event is written to a native trace as it passes
(secret headers masked, content optionally redacted), by the same code as `Recorder`.

Path rule: the proxy mirrors the upstream's paths. Its base URL is the upstream's with the
scheme, host and port replaced (``--upstream https://api.openai.com/v1`` → ``http://127.0.0.1:PORT/v1``),
a request's path and query are appended to the upstream's origin unchanged, and a path outside
the upstream's path prefix is answered 404 without forwarding. So the trace holds the same paths
the client would have used without the proxy. Absolute-URL targets and ``CONNECT`` are refused.
"""

from __future__ import annotations

import contextlib
import os
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import orjson

from runmodel import RunmodelError

from .errors import ERROR_REPLIES, error_body
from .serving import BackgroundServer, LoopbackHTTPServer

__all__ = ["RecordingProxy", "UpstreamError", "check_upstream"]

# headers of one connection, never forwarded (RFC 9110 §7.6.1), plus those the proxy recomputes
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "expect",
    }
)
_REQUEST_DROPPED = _HOP_BY_HOP | {"host", "content-length", "accept-encoding"}
_CODINGS = frozenset({"gzip", "x-gzip", "deflate", "identity"})  # those the trace can decode
_NO_BODY = frozenset({204, 304})
_TIMEOUT = {"connect": 10.0, "read": 600.0, "write": 600.0, "pool": 10.0}  # the SDK's 600 s


class UpstreamError(RunmodelError, ValueError):
    """The upstream URL is not an ``http(s)://host[:port][/path]`` URL."""


def _split_upstream(upstream: str) -> tuple[str, str]:
    """The upstream's origin and path prefix (without a trailing slash); `UpstreamError` if bad."""
    try:
        parts = urlsplit(upstream)
        parts.port  # noqa: B018 (validates the port)
    except ValueError as exc:
        raise UpstreamError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamError("must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise UpstreamError("must not hold credentials (the client sends its own key)")
    if parts.query or parts.fragment:
        raise UpstreamError("must not have a query or fragment")
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


def check_upstream(upstream: str) -> None:
    """Raise `UpstreamError` (saying why) if the proxy cannot forward to `upstream`."""
    _split_upstream(upstream)


def _listed(connection: list[str]) -> frozenset[str]:
    """The header names a ``Connection`` header lists: hop-by-hop too (RFC 9110 §7.6.1)."""
    return frozenset(n.strip().lower() for v in connection for n in v.split(",") if n.strip())


def _accepted(values: list[str] | None) -> str | None:
    """The client's ``Accept-Encoding`` cut to the codings the trace can decode (so that no body
    arrives as, say, brotli and goes unrecorded); ``identity`` if none of them is left."""
    if not values:
        return None
    kept = [c for v in values for c in v.split(",") if c.split(";")[0].strip().lower() in _CODINGS]
    return ", ".join(c.strip() for c in kept) or "identity"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # each streamed event goes out at once
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the trace is the log."""

    def _refuse(self, kind: str, **fields: object) -> None:
        """Answer with the proxy's own error reply `kind` (see `conformance.errors`)."""
        body = orjson.dumps(error_body(kind, **fields))
        self.send_response(ERROR_REPLIES[kind].status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> bytes:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            out = bytearray()
            while size := int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16):
                out += self.rfile.read(size)
                self.rfile.readline()
            while self.rfile.readline().strip():  # trailers
                pass
            return bytes(out)
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def do_CONNECT(self) -> None:
        self.close_connection = True
        self._refuse("proxy_connect")

    def _forward(self) -> None:
        proxy: RecordingProxy = self.server.owner
        try:
            body = self._body()
        except ValueError:
            self.close_connection = True
            self._refuse("proxy_framing")
            return
        if not self.path.startswith("/"):  # absolute-form ("http://host/...") or "*"
            self.close_connection = True
            self._refuse("proxy_absolute_url", upstream=proxy.upstream)
            return
        path = self.path.partition("?")[0]
        prefix = proxy.prefix
        if prefix and path != prefix and not path.startswith(prefix + "/"):
            self._refuse("proxy_outside_prefix", method=self.command, path=path, prefix=prefix)
            return
        dropped = _REQUEST_DROPPED | _listed(self.headers.get_all("connection") or [])
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in dropped]
        accepted = _accepted(self.headers.get_all("accept-encoding"))
        if accepted is not None:
            headers.append(("accept-encoding", accepted))
        try:
            request = proxy.http.Request(
                self.command,
                proxy.origin.copy_with(raw_path=self.path.encode("ascii")),
                headers=headers,
                content=body,
                extensions={"timeout": _TIMEOUT},
            )
        except Exception as exc:  # a target or header the HTTP library will not send
            self._refuse("proxy_unsendable", reason=exc)
            return
        try:
            response = proxy.transport.handle_request(request)
        except Exception as exc:  # recorded by the recorder as an exchange with "error"
            self._refuse(
                "upstream_unreachable",
                upstream=proxy.upstream,
                error=type(exc).__name__,
                reason=exc,
            )
            return
        try:
            self._relay(response)
        finally:
            response.stream.close()  # also ends the recorded exchange

    def _relay(self, response: Any) -> None:
        self.send_response_only(response.status_code)  # the upstream's own Date and Server
        length = response.headers.get("content-length")
        dropped = _HOP_BY_HOP | _listed(response.headers.get_list("connection"))
        for key, value in response.headers.multi_items():
            if key.lower() not in dropped and key.lower() != "content-length":
                self.send_header(key, value)
        if self.command == "HEAD" or response.status_code in _NO_BODY:
            if length is not None:
                self.send_header("content-length", length)
            self.end_headers()
            return
        chunked = length is None and self.request_version != "HTTP/1.0"
        if length is not None:
            self.send_header("content-length", length)
        elif chunked:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.close_connection = True  # an HTTP/1.0 client: the body ends with the connection
        self.end_headers()
        # With a content-length the client is done at the body's last byte, so that byte goes
        # out only after the upstream body ended and the recorder wrote the exchange: a client
        # that stops the proxy as soon as it has its answer finds the answer in the trace.
        # (Chunked and close-delimited bodies end only after the loop anyway.)
        held = b""
        try:
            for chunk in response.stream:
                if not chunk:
                    continue
                if chunked:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                elif length is not None:
                    self.wfile.write(held)
                    held = chunk
                else:
                    self.wfile.write(chunk)
                self.wfile.flush()
            self.wfile.write(held + (b"0\r\n\r\n" if chunked else b""))
        except Exception:  # the client went away, or the upstream broke off, mid-body
            self.close_connection = True  # an unterminated body tells the client so

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = do_HEAD = do_OPTIONS = _forward


class RecordingProxy(BackgroundServer):
    """A reverse proxy on `host`:`port` (0: a free port) to ``upstream``, recording to a trace.

    Use as a context manager to serve from a background thread (the trace's footer is written
    on exit), or call `serve_forever` and then `close`. `base_url` is what clients are given.
    """

    thread_name = "runmodel-record"

    def __init__(
        self,
        upstream: str,
        trace: str | os.PathLike[str],
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        redact: bool = False,
    ) -> None:
        from .recorder import Recorder
        from .sdk import http_module

        origin, self.prefix = _split_upstream(upstream)
        self.upstream = origin + self.prefix
        self.http = http_module()
        self.origin = self.http.URL(origin)
        super().__init__(_Handler, host, port)  # before the trace: a busy port leaves no file
        try:
            self.recorder = Recorder(trace, redact=redact)
        except BaseException:
            self.httpd.server_close()
            raise
        self.transport = self.recorder.wrap(self.http.HTTPTransport())

    @property
    def base_url(self) -> str:
        """The URL to give a client as its base URL: the upstream's path on the proxy."""
        return self.url(self.prefix)

    def close(self) -> None:
        """Stop serving, close the upstream connections, and end the trace with its footer."""
        self.stop()
        with contextlib.suppress(Exception):
            self.transport.close()
        self.recorder.close()
