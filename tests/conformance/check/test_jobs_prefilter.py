"""``--jobs``: the pre-filter that keeps a shard of threads from decoding the other shards' run
lines (`conformance.check.shard.run_hint`) on lines crafted to fool it: its hint is the decoded
object's or none, the shards still merge into the one-process report (text, JSON, JUnit, exit
code), and a pre-filter that misreads is caught."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from conformance import merge
from conformance.check import lines, shard
from conformance.check.shard import item_keys, run_hint
from conformance.decode import CHECKED
from conformance.observations import Location, Snapshot
from runmodel.cli import main
from tests.conformance.check.test_fast_jobs import (
    MISREAD,
    _by_lists,
    _one_process,
    _sharded,
    misleading,
)
from tests.helpers.checktrace import run, step

_THREADS = 6


def _dump(obj: dict[str, Any], first: Sequence[str] = ("id", "object")) -> bytes:
    """A run object's line with `first` keys first (as SDK dumps write it), the rest after."""
    ordered = {k: obj[k] for k in first if k in obj} | obj
    return orjson.dumps(ordered) + b"\n"


def _life(rid: str, tid: str, **over: Any) -> list[dict[str, Any]]:
    """A run's polls: queued, in progress twice, completed twice (a poller's repeats)."""
    started = {"started": True}
    return [
        run("queued", rid=rid, tid=tid, started=False, **over),
        run("in_progress", rid=rid, tid=tid, **started, **over),
        run("in_progress", rid=rid, tid=tid, **started, **over),
        run("completed", rid=rid, tid=tid, **started, **over),
        run("completed", rid=rid, tid=tid, **started, **over),
    ]


def _crafted_lines() -> list[list[bytes]]:
    """Runs on several threads, each a list of lines; some of them crafted against the bytes."""
    lives: list[list[bytes]] = []
    for n in range(12):  # plain SDK lines, on threads the shards share out
        lives.append([_dump(o) for o in _life(f"run_{n}", f"thread_{n % _THREADS}")])
    # "thread_id" inside a string before the real key (escaped quotes)
    fake = 'see "thread_id":"thread_5" and "status":"completed"'
    lives.append(
        [
            _dump(o, ("id", "object", "instructions"))
            for o in _life("run_s", "thread_0", instructions=fake)
        ]
    )
    # escaped quotes and escapes in the ids themselves
    lives.append([_dump(o) for o in _life('run_"q', 'thread_"1')])
    lives.append(
        [
            _dump(o).replace(b'"thread_c"', b'"thread_\\u0063"')  # thread_c, escaped
            for o in _life("run_e", "thread_c")
        ]
    )
    # a nested thread_id and status before the top-level ones
    nested = {"metadata": {"thread_id": "thread_4", "status": "failed"}}
    lives.append(
        [_dump(o, ("id", "object", "metadata")) for o in _life("run_m", "thread_2", **nested)]
    )
    # a thread known only once decoded: none at the top, one nested; and spaced out JSON
    lives.append(
        [
            _dump({k: v for k, v in o.items() if k != "thread_id"}, ("id", "object", "metadata"))
            for o in _life("run_n", "thread_3", metadata={"thread_id": "thread_1"})
        ]
    )
    lives.append(
        [
            orjson.dumps(o).replace(b'":', b'": ').replace(b",", b", ") + b"\n"
            for o in _life("run_w", "thread_5")
        ]
    )
    # a run whose thread changes, and one whose id does not come first
    moving = _life("run_t", "thread_0")
    for o in moving[2:]:
        o["thread_id"] = "thread_1"
    lives.append([_dump(o) for o in moving])
    lives.append([_dump(o, ("object", "id")) for o in _life("run_o", "thread_4")])
    # steps of a run, decoded as ever (not run objects)
    lives.append(
        [orjson.dumps(step(s, sid="step_9", rid="run_3")) + b"\n" for s in ("in_progress",)]
    )
    return lives


def _interleave(lives: list[list[bytes]]) -> bytes:
    """The lives' lines, round robin (each life in order)."""
    out: list[bytes] = []
    for i in range(max(map(len, lives))):
        out.extend(life[i] for life in lives if i < len(life))
    return b"".join(out)


@pytest.fixture
def crafted(tmp_path: Path) -> Path:
    path = tmp_path / "crafted.jsonl"
    path.write_bytes(_interleave(_crafted_lines()))
    return path


def _decoded(line: bytes) -> tuple[str, list[str], Any] | None:
    """What the reader makes of a line that holds one object: its kind, ids named, status."""
    obj = CHECKED.decode(line)
    if obj is None:
        try:
            whole = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None
        if type(whole) is not dict:
            return None
        obj = CHECKED.project(whole)
    keys = item_keys(Snapshot(Location("x"), None, obj))[0]
    return obj.get("object"), keys, obj.get("status")


def test_a_hint_is_the_decoded_run_or_none(crafted: Path) -> None:
    hinted = 0
    for line in crafted.read_bytes().splitlines(keepends=True):
        hint = shard.run_hint(line)  # (as the shards look it up)
        if hint is None:
            continue
        hinted += 1
        rid, tid, status = hint
        assert _decoded(line) == ("thread.run", [f"t:{tid}", f"r:{rid}"], status), line
    assert hinted >= 12 * 5  # (the plain lines, at least, are read from their bytes)


@pytest.mark.parametrize(
    "line",
    [
        b'{"id":"run_1","object":"thread.run","thread_id":"thread_1","status":"queued"',  # cut
        b'{"id":"run_1","object":"thread.run","thread_id":"thread_1"}\n',  # no status
        b'{"id":"run_1","object":"thread.run.step","thread_id":"t","status":"queued"}\n',
        b'{"id":"run_\\"1","object":"thread.run","thread_id":"t","status":"queued"}\n',
        b'{"id":"run_1","object":"thread.run","thread_id":"t\\u0031","status":"queued"}\n',
        b'{"id":"run_1","object":"thread.run","x":["\\"thread_id\\":\\"t"],"thread_id":"u",'
        b'"status":"queued"}\n',
        b'{"id":"run_1","object":"thread.run","thread_id":null,"status":"queued"}\n',
    ],
)
def test_what_the_bytes_cannot_tell_has_no_hint(line: bytes) -> None:
    assert run_hint(line) is None


def test_crafted_lines_split_by_thread_merge_into_the_one_process_report(crafted: Path) -> None:
    """Read from their bytes where that is exact, else decoded: the shards agree on every
    owner, as they do with every line decoded (three shards refuse alike: the run that changes
    thread names ids of two of them); two merge, not refused."""
    one = _one_process([crafted], 4)
    assert not misleading([crafted])
    assert _sharded([crafted], 2, 4) == one
    for shards in (2, 3):
        assert _sharded([crafted], shards, 4) == _by_lists([crafted], shards, 4)


def test_a_repeated_key_misleads_the_hint_and_the_merge_refuses(tmp_path: Path) -> None:
    """A thread_id key twice (the last one counts): the bytes' hint names the first thread; the
    shard that checks the line finds the other once decoded, and the merge refuses (the check
    is then done in one process) rather than merge what the shards took apart wrongly."""
    lives = _crafted_lines()
    twice = [
        line.replace(b'"status"', b'"thread_id":"thread_3","status"', 1)
        for line in [_dump(o) for o in _life("run_d", "thread_0")]
    ]
    path = tmp_path / "twice.jsonl"
    path.write_bytes(_interleave([*lives, twice]))
    assert misleading([path])
    got = _sharded([path], 2, 4)
    assert isinstance(got, str)
    assert MISREAD in got


def _escapes_ignored(line: bytes) -> tuple[str, str, str] | None:
    """A deliberately wrong pre-filter: each value is sliced up to the next quote, escaped or
    not, and nesting is not looked at."""
    if not line.startswith(b'{"id":"'):
        return None
    values = []
    for key in (b'"id":"', b'"thread_id":"', b'"status":"'):
        at = line.find(key)
        if at < 0:
            return None
        start = at + len(key)
        values.append(line[start : line.find(b'"', start)].decode())
    if b'"object":"thread.run"' not in line:
        return None
    return values[0], values[1], values[2]


def _escapes_ignored_at(line: bytes) -> tuple[str, str, str, int] | None:
    """`_escapes_ignored` as the shards ask it (no quicker reading of a new poll)."""
    found = _escapes_ignored(line)
    return None if found is None else (*found, 0)


def test_a_pre_filter_that_ignores_escapes_is_caught(
    crafted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the wrong pre-filter the hints mislead (the test of hints fails) and the merge of
    the crafted file is refused; were the shards not to verify their hints once decoded, the
    merged report would differ from one process's."""
    one = _one_process([crafted], 4)
    monkeypatch.setattr(shard, "run_hint", _escapes_ignored)
    monkeypatch.setattr(shard, "cut_hint", _escapes_ignored_at)
    with pytest.raises(AssertionError):
        test_a_hint_is_the_decoded_run_or_none(crafted)
    got = _sharded([crafted], 2, 4)
    assert isinstance(got, str)
    assert MISREAD in got
    unverified: Callable[[Any, Any, Any], None] = lambda self, item, keys: setattr(  # noqa: E731
        self.filter, "pending", None
    )
    monkeypatch.setattr(shard._Shard, "_verify", unverified)
    monkeypatch.setattr(shard._Shard, "_verified", unverified)
    monkeypatch.setattr(shard._Shard, "_unverified", lambda self, path: unverified(self, 0, 0))
    assert _sharded([crafted], 2, 4) != one


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["check", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("fmt", ["text", "json", "junit"])
def test_jobs_2_on_crafted_lines_write_the_one_process_report(
    crafted: Path, capsys: pytest.CaptureFixture[str], fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line: the same report, the same exit code and nothing more on stderr (no
    note of a check done in one process instead)."""
    one = _cli(capsys, "--format", fmt, "--coverage", str(crafted))
    monkeypatch.setattr(merge, "SPLIT_FROM", 2)  # (split in two, as the shards were crafted for)
    assert _cli(capsys, "--format", fmt, "--coverage", "--jobs", "2", str(crafted)) == one


def test_jobs_2_on_a_broken_line_hinted_as_a_run_check_in_one_process(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = _dump(run("failed", rid="run_b", tid="thread_b")).replace(b'"started_at":', b'"x":1e400,')
    path = tmp_path / "bad.jsonl"
    path.write_bytes(_interleave([*_crafted_lines(), [bad]]))
    code, out, _ = _cli(capsys, "--format", "json", str(path))
    monkeypatch.setattr(merge, "SPLIT_FROM", 2)
    jobs = _cli(capsys, "--format", "json", "--jobs", "2", str(path))
    assert (code, out) == jobs[:2]
    assert code == 1
    assert f"checking in one process: {path}:" in jobs[2]
    assert MISREAD in jobs[2]


def _polls(tmp_path: Path) -> list[bytes]:
    """The bench trace's lines, the crafted ones, and new polls that differ after the status."""
    import sys

    bench = str(Path(__file__).resolve().parents[3] / "bench")
    sys.path.insert(0, bench)
    try:
        import bench_check
    finally:
        sys.path.remove(bench)
    path = tmp_path / "bench.jsonl"
    bench_check.generate(path, 2000, open_runs=20)
    lines = path.read_bytes().splitlines(keepends=True)
    lines += _interleave(_crafted_lines()).splitlines(keepends=True)
    poll = _dump(run("in_progress", rid="run_x", tid="thread_x"))
    for status in (b'queued\\"x', b"queued{", b"[queued", b"\xff", b"completed"):
        lines += [poll, poll.replace(b'"in_progress"', b'"' + status + b'"')]
    lines += [poll, poll[:-3], poll, poll.replace(b'"in_progress"', b'"in_progress')]
    return lines


def test_a_new_poll_of_a_run_has_the_hint_its_bytes_give(tmp_path: Path) -> None:
    """The shards read a line that begins as the last of its run up to the status value only
    from there (`lines.next_hint`): the same hint as from the whole line, or none alike."""
    last: dict[bytes, Any] = {}
    quick = 0
    for line in _polls(tmp_path):
        before = last.get(line[:64])
        quick += before is not None and bool(before.cut)
        quick -= before is not None and bool(before.cut) and line == before.line
        hint = last[line[:64]] = lines.next_hint(line, before)
        got = None if hint.keys is None else (hint.rid, hint.keys[0][2:], hint.status)
        assert got == run_hint(line), line
    assert quick > 100
