"""Tool calls a client can answer: its own function tools, with arguments drawn from their schemas.

A client that dispatches on its own tool names (``functions[call.function.name]``) must be asked
for those tools, with arguments its code can read, or its tool path is never exercised. The
tools come from the assistant or run the client uses, or from a file; `arguments` draws a
function's arguments from its JSON Schema (English words for texts) and shrinks toward the
plainest value, which `plainest` gives without drawing.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from runmodel import RunmodelError

__all__ = ["WORDS", "ToolsError", "arguments", "function_tools", "load_tools", "plainest"]

WORDS: tuple[str, ...] = (
    "book",
    "pen",
    "laptop",
    "coffee",
    "London",
    "blue",
    "small",
    "today",
    "report",
    "order",
    "weather",
    "Paris",
)
"""The words drawn texts are made of (the first is the plainest)."""

_MAX_ITEMS = 3
_MAX_NUMBER = 1000


class ToolsError(RunmodelError, ValueError):
    """A tools file that cannot be used; the message says which and why."""


def function_tools(tools: Any) -> list[Mapping[str, Any]]:
    """The function definitions (``{"name", "parameters", …}``) among `tools`, in order."""
    if not isinstance(tools, Sequence) or isinstance(tools, (str, bytes)):
        return []
    return [
        t["function"]
        for t in tools
        if isinstance(t, Mapping)
        and t.get("type") == "function"
        and isinstance(t.get("function"), Mapping)
        and isinstance(t["function"].get("name"), str)
    ]


def load_tools(path: str | Path) -> list[dict[str, Any]]:
    """Read a tools file: a JSON list of tools as the API takes them, or an object with a
    ``tools`` list (an assistant's create body). Bare functions (``{"name", "parameters"}``)
    are wrapped as function tools."""
    file = Path(path)
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ToolsError(f"{file}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ToolsError(f"{file}:{exc.lineno}: not JSON: {exc.msg}") from None
    if isinstance(data, Mapping) and "tools" in data:
        data = data["tools"]
    if not isinstance(data, list):
        raise ToolsError(f"{file}: expected a list of tools, or an object with a 'tools' list")
    tools: list[dict[str, Any]] = []
    for i, tool in enumerate(data, 1):
        if isinstance(tool, Mapping) and "name" in tool and "type" not in tool:
            tool = {"type": "function", "function": dict(tool)}
        if not isinstance(tool, Mapping) or not isinstance(tool.get("type"), str):
            raise ToolsError(f"{file}: tool {i} is not a tool (an object with a 'type')")
        if tool["type"] == "function" and not function_tools([tool]):
            raise ToolsError(f"{file}: tool {i} is a function without a 'function.name'")
        tools.append(dict(tool))
    return tools


def _types(schema: Mapping[str, Any]) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list) and kind:
        return [k for k in kind if isinstance(k, str)]
    if "properties" in schema:
        return ["object"]
    if "items" in schema:
        return ["array"]
    return []


def _text(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    low = int(schema.get("minLength", 0))
    high = schema.get("maxLength")
    words = st.lists(st.sampled_from(WORDS), min_size=1, max_size=_MAX_ITEMS).map(" ".join)
    out = words.map(lambda s: s.ljust(low, "x"))
    if isinstance(high, int):
        out = out.map(lambda s: s[:high])
    return out


def _bounds(schema: Mapping[str, Any], integer: bool) -> tuple[float, float]:
    """The least and greatest value to draw (an exclusive bound is moved in by one)."""
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    high = schema.get("maximum", schema.get("exclusiveMaximum", max(low, 0) + _MAX_NUMBER))
    if "minimum" not in schema and "exclusiveMinimum" in schema:
        low += 1
    if "maximum" not in schema and "exclusiveMaximum" in schema:
        high -= 1
    if integer:
        low, high = math.ceil(low), math.floor(high)
    return low, max(low, high)


def arguments(schema: Any) -> st.SearchStrategy[Any]:
    """Values that `schema` (a JSON Schema, as function ``parameters``) accepts: objects with
    every required property (optional ones sometimes), up to three array items, numbers from
    the schema's bounds (else 0..1000), texts of English words. Unknown keywords are ignored."""
    if not isinstance(schema, Mapping):
        return st.just({})
    if "const" in schema:
        return st.just(schema["const"])
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return st.one_of([arguments(s) for s in schema[key]])
    kinds = _types(schema)
    if not kinds:
        return st.just({})
    return st.one_of([_of_type(k, schema) for k in kinds])


def _of_type(kind: str, schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    if kind == "object":
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        required = [k for k in schema.get("required") or () if k in props]
        return st.fixed_dictionaries(
            {k: arguments(props[k]) for k in required},
            optional={k: arguments(v) for k, v in props.items() if k not in required},
        )
    if kind == "array":
        low = int(schema.get("minItems", 0))
        high = int(schema.get("maxItems", max(low, _MAX_ITEMS)))
        return st.lists(arguments(schema.get("items")), min_size=low, max_size=max(low, high))
    if kind == "string":
        return _text(schema)
    if kind == "integer":
        least, most = _bounds(schema, integer=True)
        return st.integers(int(least), int(max(least, most)))
    if kind == "number":
        least, most = _bounds(schema, integer=False)
        return st.floats(least, max(least, most), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return st.none()


def plainest(schema: Any) -> Any:
    """The value `arguments` shrinks to: required properties only, fewest items, lowest
    numbers, the first word (of ``anyOf``/``oneOf``, the first branch's, a plain value though
    Hypothesis may shrink to another branch)."""
    if not isinstance(schema, Mapping):
        return {}
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return plainest(schema[key][0])
    kinds = _types(schema)
    kind = kinds[0] if kinds else None
    if kind is None:
        return {}
    if kind == "object":
        props = schema.get("properties")
        props = props if isinstance(props, Mapping) else {}
        return {k: plainest(props[k]) for k in schema.get("required") or () if k in props}
    if kind == "array":
        return [plainest(schema.get("items")) for _ in range(int(schema.get("minItems", 0)))]
    if kind == "string":
        text = WORDS[0].ljust(int(schema.get("minLength", 0)), "x")
        high = schema.get("maxLength")
        return text[:high] if isinstance(high, int) else text
    if kind in ("integer", "number"):
        low, _ = _bounds(schema, integer=kind == "integer")
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return False
    return None
