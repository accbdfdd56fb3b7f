"""YAML cassettes: VCR.py, Ruby VCR, OkReplay and go-vcr (safe loader only: tags that would
build Python objects are refused). One that does not parse is read interaction by interaction."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ..observations import InputProblem, Item, Location, TraceInfo
from ._common import SNIFF, numbered
from ._http import vcr_interaction

__all__ = ["read_yaml"]


def read_yaml(data: bytes, file: str) -> Iterator[Item]:
    import yaml

    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        yield InputProblem(
            Location(file, line), "input.bad_encoding", "the file is not valid UTF-8"
        )
        text = data.decode("utf-8", "replace")
    loader_class = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        root = _compose(loader_class, text)
    except (yaml.YAMLError, RecursionError) as exc:
        fmt, key = _yaml_guess(text)
        yield TraceInfo(Location(file, 1), fmt, 1)
        yield from numbered(_yaml_salvage(text, file, exc, loader_class, key))
        return
    pairs = {
        key.value: value
        for key, value in (root.value if isinstance(root, yaml.MappingNode) else [])
        if isinstance(key, yaml.ScalarNode)
    }
    key = "http_interactions" if "http_interactions" in pairs else "interactions"
    interactions = pairs.get(key)
    version = pairs.get("version")
    number = version.value if isinstance(version, yaml.ScalarNode) else ""
    fmt = _yaml_format(root, key, interactions)
    yield TraceInfo(Location(file, 1), fmt, int(number) if number.isdigit() else 1)
    if not isinstance(interactions, yaml.SequenceNode):
        yield InputProblem(Location(file, 1), "input.bad_entry", f"no '{key}' list")
        return
    yield from numbered(_yaml_items(interactions.value, loader_class, file, text, 0, 0, key))


def _yaml_format(root: Any, key: str, interactions: Any) -> str:
    """Which tool wrote a YAML cassette, from its root and its first interaction's request."""
    import yaml

    if key == "http_interactions":
        return "ruby-vcr-yaml"
    if getattr(root, "tag", "") == "!tape":
        return "okreplay-yaml"
    nodes = interactions.value if isinstance(interactions, yaml.SequenceNode) else []
    first = nodes[0] if nodes else None
    for k, v in first.value if isinstance(first, yaml.MappingNode) else []:
        if getattr(k, "value", None) == "request" and isinstance(v, yaml.MappingNode):
            names = {getattr(n, "value", None) for n, _ in v.value}
            if "url" in names and "uri" not in names:
                return "go-vcr-yaml"
    return "vcr-yaml"


def _yaml_guess(text: str) -> tuple[str, str]:
    """The format and list key of a YAML cassette that does not parse, from its text."""
    head = text[:SNIFF]
    if re.search(r"^http_interactions\s*:", head, re.M):
        return "ruby-vcr-yaml", "http_interactions"
    if head.lstrip().startswith("!tape"):
        return "okreplay-yaml", "interactions"
    if re.search(r"^\s+url\s*:", head, re.M) and not re.search(r"^\s+uri\s*:", head, re.M):
        return "go-vcr-yaml", "interactions"
    return "vcr-yaml", "interactions"


def _compose(loader_class: Any, text: str) -> Any:
    loader = loader_class(text)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def _yaml_items(
    nodes: list[Any],
    loader_class: Any,
    file: str,
    text: str,
    offset: int,
    first: int,
    key: str = "interactions",
) -> Iterator[Item]:
    """Construct each interaction node on its own, so that one bad node loses only itself.

    ``text`` is what the nodes were composed from; its first line is line ``offset + 1``.
    """
    import yaml

    loader = loader_class("")
    at, line = 0, offset + 1  # a character index of text and its line: the count moves forward
    try:
        for i, node in enumerate(nodes, first):
            index = node.start_mark.index
            if index < at:
                at, line = 0, offset + 1
            at, line = index, line + text.count("\n", at, index)
            loc = Location(file, line, f"{key}[{i}]")
            try:
                interaction = loader.construct_object(node, deep=True)
            except (yaml.YAMLError, RecursionError) as exc:
                yield InputProblem(loc, "input.malformed_yaml", _yaml_message(exc))
                continue
            yield from vcr_interaction(interaction, loc)
    finally:
        loader.dispose()


def _yaml_message(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"YAML: {text[:300]}"


def _yaml_salvage(
    text: str, file: str, exc: Any, loader_class: Any, key: str = "interactions"
) -> Iterator[Item]:
    """A cassette that does not parse: parse each interaction's lines on their own."""
    import yaml

    lines = _lines(text)
    reported = False
    for index, (begin, end) in enumerate(_yaml_chunks(lines, key)):
        loc = Location(file, begin + 1, f"{key}[{index}]")
        chunk = "".join(lines[begin:end])
        try:
            node = _compose(loader_class, chunk)
        except (yaml.YAMLError, RecursionError) as err:
            reported = True
            line = begin + _yaml_line(err, chunk)
            yield InputProblem(
                Location(file, line, loc.where), "input.malformed_yaml", _yaml_message(err)
            )
            continue
        if not isinstance(node, yaml.SequenceNode) or len(node.value) != 1:
            reported = True
            yield InputProblem(loc, "input.malformed_yaml", "this interaction is not one list item")
            continue
        yield from _yaml_items(node.value, loader_class, file, chunk, begin, index, key)
    if not reported:
        at = _yaml_line(exc, text)
        cut = at >= len(lines) and not text.endswith("\n")
        code = "input.truncated" if cut else "input.malformed_yaml"
        yield InputProblem(Location(file, at), code, _yaml_message(exc))


def _lines(text: str) -> list[str]:
    """The lines of ``text`` with their ends, split at LF only: the lines a file's numbers count
    (`str.splitlines` also splits at VT, FF, NEL, U+2028 and more, YAML at CR, NEL, U+2028)."""
    lines = [line + "\n" for line in text.split("\n")]
    lines[-1] = lines[-1][:-1]
    return lines if lines[-1] else lines[:-1]


def _yaml_line(exc: BaseException, text: str) -> int:
    """The 1-based line a YAML error points at, within ``text``."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None and isinstance(getattr(mark, "index", None), int):
        line = text.count("\n", 0, mark.index) + 1  # (the mark's own line counts YAML's breaks)
    elif mark is not None:
        line = int(mark.line) + 1
    elif isinstance(getattr(exc, "position", None), int):  # a reader error: a bad character
        line = text.count("\n", 0, getattr(exc, "position", 0)) + 1
    else:
        line = 1
    return max(1, min(line, text.count("\n") + (0 if text.endswith("\n") else 1)))


_YAML_ITEM = re.compile(r"( *)- ")


def _yaml_chunks(lines: list[str], key: str = "interactions") -> list[tuple[int, int]]:
    """Line ranges ``[begin, end)`` of the items of the top-level ``interactions:`` list."""
    begin = next((i for i, s in enumerate(lines) if s.startswith(f"{key}:")), None)
    if begin is None:
        return []
    chunks: list[tuple[int, int]] = []
    indent: str | None = None
    current = -1
    end = len(lines)
    for i in range(begin + 1, len(lines)):
        line = lines[i]
        body = line.lstrip(" ")
        if not body.strip() or body.startswith("#"):
            continue
        lead = line[: len(line) - len(body)]
        if indent is None:
            m = _YAML_ITEM.match(line)
            if m is None:
                return []
            indent = m.group(1)
        if lead == indent and body.startswith("- "):
            if current >= 0:
                chunks.append((current, i))
            current = i
        elif len(lead) <= len(indent):
            end = i  # the next top-level key
            break
    if current >= 0:
        chunks.append((current, end))
    return chunks
