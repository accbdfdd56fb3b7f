"""In-process transports: the openai SDK talks to the emulator through its own HTTP client.

One implementation, parameterised by the HTTP module the SDK uses (``httpx`` for openai 2.x,
``httpx2`` for 3.x): `transport_for` builds ``BaseTransport`` / ``AsyncBaseTransport``
subclasses of that module, so the client is an ordinary ``Client(transport=...)`` and nothing
global is patched. A dropped connection raises the module's ``ConnectError``; a stream dropped
mid-way, its ``RemoteProtocolError`` (as over HTTP when a chunked body breaks off).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any

from conformance import sdk

from .wire import BASE_URL, Answers, Reply, StreamDropped

if TYPE_CHECKING:
    import openai

__all__ = ["async_sdk_client", "async_transport", "http_module", "sdk_client", "transport"]

_DROPPED = "peer closed connection without sending complete message body (incomplete chunked read)"


def http_module(name: str | None = None) -> ModuleType:
    """The HTTP module by name, or (None) the one the installed openai SDK is built on."""
    return importlib.import_module(name) if name is not None else sdk.http_module()


@functools.cache
def _classes(module: ModuleType) -> tuple[type[Any], type[Any]]:
    """Transport classes for one HTTP module (built once per module)."""

    class _Stream(module.SyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, chunks: Iterator[bytes]) -> None:
            self._chunks = chunks

        def __iter__(self) -> Iterator[bytes]:
            try:
                yield from self._chunks
            except StreamDropped as exc:
                raise module.RemoteProtocolError(_DROPPED) from exc

        def close(self) -> None:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()

    class _AsyncStream(module.AsyncByteStream):  # type: ignore[misc,name-defined]
        def __init__(self, chunks: Iterator[bytes]) -> None:
            self._chunks = chunks

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                for chunk in self._chunks:
                    yield chunk
            except StreamDropped as exc:
                raise module.RemoteProtocolError(_DROPPED) from exc

        async def aclose(self) -> None:
            close = getattr(self._chunks, "close", None)
            if close is not None:
                close()

    def _request(emulator: Answers, request: Any) -> Reply:
        url = request.url
        try:
            body = request.content
        except module.RequestNotRead:
            body = request.read()
        return emulator.handle(request.method, url.path, url.query.decode(), request.headers, body)

    class EmulatorTransport(module.BaseTransport):  # type: ignore[misc,name-defined]
        """Answers every request from an `Emulator`, in-process."""

        def __init__(self, emulator: Answers) -> None:
            self.emulator = emulator

        def handle_request(self, request: Any) -> Any:
            reply = _request(self.emulator, request)
            if reply.drop:
                raise module.ConnectError("the emulator dropped the connection", request=request)
            if reply.stream is None:
                return module.Response(reply.status, headers=reply.headers, content=reply.body)
            return module.Response(
                reply.status, headers=reply.headers, stream=_Stream(reply.stream)
            )

    class AsyncEmulatorTransport(module.AsyncBaseTransport):  # type: ignore[misc,name-defined]
        """The same, for async clients (the emulator never blocks on a virtual clock)."""

        def __init__(self, emulator: Answers) -> None:
            self.emulator = emulator

        async def handle_async_request(self, request: Any) -> Any:
            reply = _request(self.emulator, request)
            if reply.drop:
                raise module.ConnectError("the emulator dropped the connection", request=request)
            if reply.stream is None:
                return module.Response(reply.status, headers=reply.headers, content=reply.body)
            return module.Response(
                reply.status, headers=reply.headers, stream=_AsyncStream(reply.stream)
            )

    return EmulatorTransport, AsyncEmulatorTransport


def transport(emulator: Answers, http: str | ModuleType | None = None) -> Any:
    """A sync transport for ``<http>.Client(transport=...)`` (default: the SDK's HTTP module)."""
    module = http if isinstance(http, ModuleType) else http_module(http)
    return _classes(module)[0](emulator)


def async_transport(emulator: Answers, http: str | ModuleType | None = None) -> Any:
    """An async transport for ``<http>.AsyncClient(transport=...)``."""
    module = http if isinstance(http, ModuleType) else http_module(http)
    return _classes(module)[1](emulator)


def _sdk_kwargs(
    emulator: Answers, max_retries: int, strict: bool, kwargs: dict[str, Any], *, sync: bool
) -> dict[str, Any]:
    """What both SDK clients are given: a dummy key, the base URL, strictness, the transport."""
    module = http_module()
    client = (
        module.Client(transport=transport(emulator, module))
        if sync
        else module.AsyncClient(transport=async_transport(emulator, module))
    )
    return {
        "api_key": "sk-emulator",
        "base_url": BASE_URL,
        **kwargs,
        "max_retries": max_retries,
        "_strict_response_validation": strict,
        "http_client": client,
    }


def sdk_client(
    emulator: Answers, *, max_retries: int = 2, strict: bool = True, **kwargs: Any
) -> openai.OpenAI:
    """An ``openai.OpenAI`` wired to `emulator` (dummy key; strict response validation)."""
    import openai

    return openai.OpenAI(**_sdk_kwargs(emulator, max_retries, strict, kwargs, sync=True))


def async_sdk_client(
    emulator: Answers, *, max_retries: int = 2, strict: bool = True, **kwargs: Any
) -> openai.AsyncOpenAI:
    """An ``openai.AsyncOpenAI`` wired to `emulator`."""
    import openai

    return openai.AsyncOpenAI(**_sdk_kwargs(emulator, max_retries, strict, kwargs, sync=False))
