"""What every reader shares: the object types read, item numbering, how values are named."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from runmodel import API_OBJECTS

from ..observations import Exchange, Item, Snapshot, StreamEvent

__all__ = ["OBJECT_KEYS", "SNAPSHOT_OBJECTS", "SNIFF", "TRIED", "kind_of", "numbered"]

SNAPSHOT_OBJECTS = {kind: lc.name for kind, lc in API_OBJECTS.items()}
"""The API ``object`` types read as snapshots, and the model lifecycle each belongs to."""

SNIFF = 65536  # bytes read to detect a format
OBJECT_KEYS = frozenset({"object", "event", "data"})  # what a bare object or saved event has
TRIED = (
    "runmodel trace; VCR.py, Ruby VCR, Betamax, OkReplay and go-vcr cassettes; SDK test-proxy "
    "records; ExVCR; nock; HAR and Polly; run, step, message and response objects as JSON, "
    "JSON Lines or printed Run(...) in a log"
)


def numbered(items: Iterable[Item]) -> Iterator[Item]:
    """Number imported items in order from 1; a stream event's exchange 0 means the last one."""
    seq = 0
    exchange = 0
    for item in items:
        if isinstance(item, Exchange):
            seq += 1
            item.seq = exchange = seq
        elif isinstance(item, StreamEvent):
            seq += 1
            item.seq = seq
            if item.exchange_seq == 0:
                item.exchange_seq = exchange
        elif isinstance(item, Snapshot):
            seq += 1
            item.seq = seq
        yield item


def kind_of(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number" if isinstance(value, (int, float)) else "a value")
