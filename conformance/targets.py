"""The code under test, named on a command line: a function, or a method of an object that a
setup hook builds around the client (an agent, a runnable), in a file or an importable module.

``FILE.py:NAME`` and ``package.module:NAME`` name a function; ``…:Class.method`` a method, which
needs a setup hook, ``hook(client)`` or ``hook(client, thread_id, run_or_assistant_id)``,
returning the object whose method is called. The method takes the contract's arguments after the
client (``thread_id, id``), all three, none (the object holds them), or one: the thread under the
app contract, the run under the others.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from runmodel import RunmodelError

__all__ = ["TargetError", "load_target", "resolve"]

ClientFn = Callable[..., Any]


class TargetError(RunmodelError, ValueError):
    """A target that cannot be found or called; the message says which and why."""


_loaded: dict[tuple[Path, int], ModuleType] = {}  # a file named twice is loaded once


def _load_file(file: str) -> ModuleType:
    path = Path(file)
    if not path.is_file():
        raise TargetError(f"{file}: no such file")
    key = (path.resolve(), path.stat().st_mtime_ns)
    if key in _loaded:
        return _loaded[key]
    spec = importlib.util.spec_from_file_location(f"_runmodel_fuzz_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise TargetError(f"{file}: not a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # listed, so that virtual time reaches its own `sleep` names
    folder = str(path.resolve().parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise TargetError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        raise TargetError(f"{file}: importing it raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(folder)
    _loaded[key] = module
    return module


def _import(name: str) -> ModuleType:
    sys.path.insert(0, str(Path.cwd()))  # as `python -m` does: the current folder's packages
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise TargetError(f"{name}: no module named {exc.name!r}") from None
    except SyntaxError as exc:
        raise TargetError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
    except Exception as exc:
        raise TargetError(f"{name}: importing it raised {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.pop(0)


def _split(target: str) -> tuple[str, list[str]]:
    where, sep, attrs = target.rpartition(":")
    names = attrs.split(".")
    if not sep or not where or not all(n.isidentifier() for n in names):
        raise TargetError(
            f"{target!r}: expected FILE.py:FUNCTION or package.module:FUNCTION "
            "(or …:Class.method with --setup)"
        )
    return where, names


def _module(where: str) -> ModuleType:
    is_file = where.endswith(".py") or "/" in where or "\\" in where
    return _load_file(where) if is_file else _import(where)


def resolve(target: str) -> Any:
    """The object ``FILE.py:NAME.NAME`` or ``package.module:NAME.NAME`` names."""
    where, names = _split(target)
    obj: Any = _module(where)
    for i, name in enumerate(names):
        found = getattr(obj, name, None)
        if found is None:
            if i == 0:
                there = sorted(
                    n for n, v in vars(obj).items() if callable(v) and not n.startswith("_")
                )
                raise TargetError(
                    f"{where}: no function {name!r}; functions there: {', '.join(there) or 'none'}"
                )
            raise TargetError(f"{where}: {'.'.join(names[:i])} has no attribute {name!r}")
        obj = found
    return obj


def _positional(fn: Any) -> tuple[int, int]:
    """How many positional arguments `fn` requires, and how many it accepts at most."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return 0, 99
    required = accepted = 0
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            accepted = 99
        elif p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            accepted += 1
            required += p.default is p.empty
    return required, max(accepted, required)


def _arity(fn: Any, choices: tuple[int, ...]) -> int | None:
    required, accepted = _positional(fn)
    return next((n for n in choices if required <= n <= accepted), None)


def load_target(target: str, setup: str | None = None, contract: str = "waiter") -> ClientFn:
    """The client function `target` names; with `setup`, a function that builds the object with
    the setup hook for each lifecycle and calls its method (built once here, against a
    throwaway emulator, so that a hook that returns the wrong thing or a method with the wrong
    arguments is found before any search). `TargetError` if either cannot be found or called
    so."""
    obj = resolve(target)
    where, names = _split(target)
    if setup is None:
        owner = resolve(f"{where}:{'.'.join(names[:-1])}") if len(names) > 1 else None
        if inspect.isclass(owner) and inspect.isfunction(inspect.getattr_static(owner, names[-1])):
            raise TargetError(
                f"{target}: {'.'.join(names)} is a method; give --setup HOOK, a function that "
                f"builds a {owner.__name__} around the client"
            )
        if not callable(obj):
            raise TargetError(f"{target}: {'.'.join(names)} is not callable")
        return obj  # type: ignore[no-any-return]
    hook = resolve(setup)
    if not callable(hook) or inspect.iscoroutinefunction(hook):
        raise TargetError(f"--setup {setup}: expected a plain function that returns the object")
    hook_args = _arity(hook, (1, 3))
    if hook_args is None:
        raise TargetError(
            f"--setup {setup}: the hook is called as hook(client) or "
            "hook(client, thread_id, run_or_assistant_id); it takes neither"
        )
    method = names[-1]
    owner = resolve(f"{where}:{'.'.join(names[:-1])}") if len(names) > 1 else None
    kind = owner if inspect.isclass(owner) else None
    label = ".".join(names)
    is_async = inspect.iscoroutinefunction(obj)
    one = "thread_id" if contract == "app" else "run_id"

    def build(client: Any, thread_id: str, other: str) -> Callable[..., Any]:
        made = hook(client) if hook_args == 1 else hook(client, thread_id, other)
        if kind is not None and not isinstance(made, kind):
            raise TargetError(
                f"--setup {setup} returned {type(made).__name__}, not {kind.__name__}"
            )
        bound = getattr(made, method, None)
        if not callable(bound):
            raise TargetError(f"--setup {setup} returned an object without a method {method!r}")
        return bound  # type: ignore[no-any-return]

    def arguments(bound: Any, client: Any, thread_id: str, other: str) -> tuple[Any, ...]:
        n = _arity(bound, (2, 3, 1, 0))
        if n is None:
            raise TargetError(
                f"{label} is called as {method}(thread_id, id), {method}(client, thread_id, id), "
                f"{method}({one}) or {method}(); it takes none of these"
            )
        return (
            ((), (thread_id if contract == "app" else other,), (thread_id, other))[n]
            if n < 3
            else (
                client,
                thread_id,
                other,
            )
        )

    if is_async:

        async def client_fn_async(client: Any, thread_id: str, other: str) -> Any:
            bound = build(client, thread_id, other)
            return await bound(*arguments(bound, client, thread_id, other))

        fn: ClientFn = client_fn_async
    else:

        def client_fn(client: Any, thread_id: str, other: str) -> Any:
            bound = build(client, thread_id, other)
            return bound(*arguments(bound, client, thread_id, other))

        fn = client_fn
    fn.__qualname__ = label
    fn.__name__ = method
    _probe(build, arguments, is_async, contract)
    return fn


def _probe(build: Any, arguments: Any, is_async: bool, contract: str) -> None:
    from .emulator import Emulator
    from .sdk import quiet_assistants_deprecation

    emu = Emulator(seed=0)
    if contract == "app":
        thread_id, other = emu.start_thread()
    else:
        thread_id, other = emu.start_run("start+1, complete+1")
    with quiet_assistants_deprecation():
        client = emu.async_client() if is_async else emu.client()
        try:
            bound = build(client, thread_id, other)
        except TargetError:
            raise
        except Exception as exc:
            raise TargetError(f"--setup: the hook raised {type(exc).__name__}: {exc}") from None
        arguments(bound, client, thread_id, other)
