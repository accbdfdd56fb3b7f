"""What a JSON Lines line tells from its bytes alone: a run object's ids and status (`run_hint`),
and the pre-filter of a shard of threads (`LineFilter`) that takes another shard's run lines by
them, without decoding, and its own run objects in place. Compiled with the hot path: a worker
asks it about every line read."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

from runmodel import RUN

from ..observations import Location, Snapshot
from .engine import Checker

__all__ = ["Found", "Hint", "LineFilter", "cut_hint", "next_hint", "run_hint"]

_ID = b'{"id":"'
_RUN_OBJECT = b'","object":"thread.run"'
_THREAD = b'"thread_id":"'
_STATUS = b'"status":"'
_ACTIVE = frozenset(RUN.statuses) - frozenset(RUN.terminal)
Found = tuple[str, str, str, int]
"""(run id, thread id, status, cut) of a line (`cut_hint`)."""
Memo = dict[int, tuple[Any, bool, tuple[str, ...]]]
"""A shard's routes of objects, by ``id``: (the object, whether the shard checks it, its runs)."""
_PREFIX = 64  # bytes of a line that pick its slot among the recent lines' hints
_HINTS = 4096  # recent lines' hints kept (all dropped at once when full)


def run_hint(line: bytes) -> tuple[str, str, str] | None:
    """(run id, thread id, status) of a JSON Lines line holding a run object as SDK dumps write
    it (``id`` first, then ``object``, a whole line), read from its bytes without decoding; None
    unless no backslash, ``{`` or ``[`` comes before the ``thread_id`` and ``status`` values
    (then both are the top-level object's). A hint only: a later duplicate key, or JSON broken
    further on, reads otherwise; the worker that checks the line verifies it once decoded."""
    found = cut_hint(line)
    return None if found is None else (found[0], found[1], found[2])


def _whole_line(line: bytes) -> bool:
    """Whether `line` ends as a whole object does (``}``, then at most white space)."""
    n = len(line)
    if n >= 2 and line[n - 1] == 10 and line[n - 2] == 125:  # (b"}\n", read byte by byte)
        return True
    return line.rstrip()[-1:] == b"}"


def cut_hint(line: bytes) -> Found | None:
    """`run_hint`, and where the status value begins when the thread comes before it (else 0):
    a line that begins as this one up to there has the same hint but for its status."""
    if not line.startswith(_ID) or not _whole_line(line):
        return None
    end = line.find(b'"', 7)
    if end < 0 or not line.startswith(_RUN_OBJECT, end):
        return None
    t = line.find(_THREAD, end)
    s = line.find(_STATUS, end)
    if t < 0 or s < 0:
        return None
    t_end = line.find(b'"', t + 13)
    s_end = line.find(b'"', s + 10)
    last = max(t_end, s_end)
    if (
        t_end < 0
        or s_end < 0
        or line.find(b"\\", 7, last) >= 0
        or line.find(b"{", 7, last) >= 0
        or line.find(b"[", 7, last) >= 0
    ):
        return None
    try:
        rid, tid = line[7:end].decode(), line[t + 13 : t_end].decode()
        return rid, tid, line[s + 10 : s_end].decode(), s + 10 if t_end < s else 0
    except UnicodeDecodeError:
        return None


def _status_hint(line: bytes, cut: int) -> str | None:
    """`cut_hint`'s status of a line that begins as one with a hint up to `cut` (so has the same
    run and thread), or None when `cut_hint` would give none: a quicker one of a new poll."""
    n = len(line)
    end = cut
    while end < n:  # (to the closing quote: a few bytes, none a backslash, ``{`` or ``[``)
        c = line[end]
        if c == 34:
            break
        if c == 92 or c == 123 or c == 91:
            return None
        end += 1
    if end >= n or not _whole_line(line):
        return None
    try:
        return line[cut:end].decode()
    except UnicodeDecodeError:
        return None


class Hint:
    """A line's `run_hint`, as `LineFilter` keeps it: the ids it names (None: no hint), its run
    and status, the worker it went to (-1 until routed), and where its status value begins
    (`cut_hint`'s cut; 0: none) with the line's bytes before it (`head`), which a new poll of the
    run often begins with."""

    def __init__(self, line: bytes, found: Found | None) -> None:
        self.line = line
        self.shard = -1
        self.keys: list[str] | None = None
        self.rid = ""
        self.status = ""
        self.cut = 0
        if found is not None:
            self.rid, tid, self.status, self.cut = found
            self.keys = ["t:" + tid, "r:" + self.rid]
        self.head = line[: self.cut]


def next_hint(
    line: bytes, before: Hint | None, hint: Callable[[bytes], Found | None] = cut_hint
) -> Hint:
    """The hint of `line`, the last line of its slot (its first bytes) being `before`'s: when
    `line` begins as that one up to its status value (a new poll of the same run, so of the same
    worker), `before` itself, given the new line and status; else a new one."""
    if before is not None and before.cut and line.startswith(before.head):
        status = _status_hint(line, before.cut)
        if status is None:
            return Hint(line, None)
        before.line, before.status = line, status
        return before
    return Hint(line, hint(line))


class LineFilter:
    """The reader's pre-filter of a shard of threads (`select`): False for a line whose bytes
    show another shard's run object, taken here as the shard would take its item (routed by
    `owner` as `Router` routes, its status foreseen, counted) without decoding it; True for any
    other line, with, for one of this shard's run objects, its hint `pending` (the shard
    verifies it once decoded; `unverified` is called when no object came of it). A line
    unlike the last of its slot (its first bytes) is read by `hint` (`cut_hint`).

    `next` is the position in its file of the next item read, `lines` the lines read; `at` is
    the shard's position of the item being checked (file index, item index), set before
    `foresee_run` can close a run.

    It also takes the run objects the reader offers (`taken`, `again`) as the shard would,
    without a call into Python for its own: checked in place by the shard's engine (`checker`),
    their positions counted, mentions of runs already `settled` noted (`mentions`). `memo` (the
    shard's routes of objects), `settled` and `mentions` are the shard's own, shared; `verified`
    is the shard's comparison of a decoded run object with its line's hint (`pending`), asked
    where they differ; `route` routes one the hint did not; `foresee_object` follows another
    shard's. `checkable` is the engine's count of checkable items when the file began."""

    def __init__(
        self,
        shard: int,
        shards: int,
        owner: dict[str, int],
        at: list[int],
        status: dict[str, str],
        foresee_run: Callable[[str, str], None],
        unverified: Callable[[], None],
        hint: Callable[[bytes], Found | None] = cut_hint,
        *,
        checker: Checker,
        memo: Memo,
        settled: set[str],
        mentions: dict[str, list[tuple[int, int]]],
        verified: Callable[[dict[str, Any], Location, list[str]], bool],
        route: Callable[[dict[str, Any], Location, int, list[str]], bool],
        foresee_object: Callable[[Any], None],
    ) -> None:
        self.shard = shard
        self.shards = shards
        self.owner = owner
        self.at = at
        self.status = status
        self.foresee_run = foresee_run
        self.unverified = unverified
        self.hint = hint
        self.lines = 0
        self.next = 0
        self.pending: tuple[int, list[str], str] | None = None
        self.counts: dict[type, int] | None = None
        self.hints: dict[bytes, Hint] = {}
        self.checker = checker
        self.memo = memo
        self.settled = settled
        self.mentions = mentions
        self.checkable = 0
        self.verified = verified
        self.route = route
        self.foresee_object = foresee_object

    def select(self, raw: bytes) -> bool:
        """Whether the reader reads `raw` (False: another shard's run object, taken here)."""
        self.lines += 1
        if self.pending is not None:
            self.unverified()
        key = raw[:_PREFIX]
        hints = self.hints
        hint = hints.get(key)
        if hint is None or hint.line != raw:
            new = next_hint(raw, hint, self.hint)
            if new is not hint:
                if len(hints) >= _HINTS:
                    hints.clear()
                hints[key] = new
            hint = new
        keys = hint.keys
        if keys is None:
            return True
        shard = hint.shard
        if shard < 0:  # (routed once: its ids keep the worker they went to)
            owner = self.owner
            for k in keys:  # (as `Router.route` would send it, without routing it)
                s = owner.get(k)
                if s is not None and s != shard:
                    if shard >= 0:  # (a conflict: decoded and routed as any line)
                        return True
                    shard = s
            if shard < 0:
                shard = zlib.crc32(keys[0].encode()) % self.shards
            hint.shard = shard
            if shard != self.shard:
                for k in keys:
                    owner.setdefault(k, shard)
        if shard == self.shard:
            self.pending = (self.lines, keys, hint.status)
            return True
        n = self.next
        self.at[1] = n  # (where a run of this shard the window closes is closed)
        if hint.status in _ACTIVE:  # (`foresee_run` of a status that settles nothing)
            self.status[hint.rid] = hint.status
        else:
            self.foresee_run(hint.rid, hint.status)
        counts = self.counts
        if counts is not None:
            counts[Snapshot] = counts.get(Snapshot, 0) + 1
        self.next = n + 1
        return False

    def taken(self, obj: dict[str, Any], loc: Location, seq: int) -> bool:
        """The reader's hook for a new object (see `Checker.observed`): a run object (no
        ``previous_response_id``) is routed (its line's hint verified), checked in place if it
        is this shard's, else foreseen; its position counted. Any other object is left to the
        shard, as an item (False). `checkable` is the engine's count when its file began."""
        if (
            obj.get("object") != "thread.run"
            or type(obj.get("id")) is not str
            or type(obj.get("previous_response_id")) is str
        ):
            return False
        checker = self.checker
        n = self.next
        self.next = n + 1
        at = self.at
        at[1] = n
        counts = self.counts
        if counts is not None:
            counts[Snapshot] = counts.get(Snapshot, 0) + 1
            if checker.checkable > self.checkable:
                self.counts = None  # (the file has something to check: no longer needed)
        memo = self.memo
        key = id(obj)
        hit = memo.get(key)
        runs: tuple[str, ...]
        if hit is not None and hit[0] is obj:
            self.pending = None  # (the object of the same bytes, verified then)
            mine, runs = hit[1], hit[2]
        else:
            oid: str = obj["id"]
            tid = obj.get("thread_id")
            keys = ["t:" + tid, "r:" + oid] if type(tid) is str else ["r:" + oid]
            runs = (oid,)
            if self.pending is not None and self._verified(obj, loc, keys):
                owner = self.owner
                for k in keys:  # (as `Router.route`: the pre-filter found them this shard's)
                    owner.setdefault(k, self.shard)
                mine = True
            else:
                mine = self.route(obj, loc, seq, keys)
            if len(memo) >= 4096:
                memo.clear()
            memo[key] = (obj, mine, runs)
        if not mine:
            self.foresee_object(obj)
            return True
        checker.observed(obj, loc, seq)
        self._mention(runs, n)
        return True

    def again(self, obj: dict[str, Any]) -> bool:
        """The reader's hook for a repeated line's object (see `Checker.repeated`): taken here,
        with no `Snapshot` made, when the shard would only have passed it to the engine's count
        of a repeat (this shard's run) or foreseen it (another shard's); its position counted."""
        hit = self.memo.get(id(obj))
        if hit is None or hit[0] is not obj:
            return False
        self.pending = None  # (the object of the same bytes, verified then)
        n = self.next
        self.at[1] = n
        if hit[1]:
            if not self.checker.repeated(obj):
                return False
            self._mention(hit[2], n)
        else:
            self.foresee_object(obj)
        counts = self.counts
        if counts is not None:
            counts[Snapshot] = counts.get(Snapshot, 0) + 1
        self.next = n + 1
        return True

    def _verified(self, obj: dict[str, Any], loc: Location, keys: list[str]) -> bool:
        """Whether a decoded run object is what its line's hint (`pending`) told; where not,
        `verified` (the shard's) notes why, and says."""
        pending = self.pending
        assert pending is not None
        if loc.line == pending[0] and keys == pending[1] and obj.get("status") == pending[2]:
            self.pending = None
            return True
        return bool(self.verified(obj, loc, keys))

    def _mention(self, runs: tuple[str, ...], n: int) -> None:
        """Note where an item of this shard named runs already settled (the merge's check that
        none was named after one process would have closed it)."""
        settled = self.settled
        if settled:
            for rid in runs:
                if rid in settled:
                    self.mentions.setdefault(rid, []).append((self.at[0], n))
