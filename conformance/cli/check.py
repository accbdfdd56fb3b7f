"""``runmodel check FILES...``: check recorded runs against the model and report.

Exit codes: 0 the input conforms; 1 violations of error severity (of any severity with
``--fail-on warning``); 2 unusable input or arguments
(a file that is missing, unreadable, or yields nothing checkable: it is reported, and the other
files are still checked).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._options import add_strictness

if TYPE_CHECKING:
    from ..check import Checker
    from ..observations import Item, Location

__all__ = ["configure", "run"]

_PROGRESS_BYTES = 64 * 1024 * 1024  # show progress (on a terminal) from this much input on
_PROGRESS_EVERY = 1 << 16  # items between two progress updates


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare the ``check`` arguments."""
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="recordings, told apart by content: native traces; VCR.py, Ruby VCR, Betamax, "
        "OkReplay and go-vcr cassettes; SDK test-proxy records; ExVCR; nock; HAR and Polly; or "
        "bare run / step / message objects (JSON, JSON Lines, or printed by the SDK)",
    )
    add_strictness(
        parser,
        help="strict admits only documented and observed edges (default); permissive also "
        "admits inferred and disputed ones",
    )
    parser.add_argument(
        "--fail-on",
        choices=("error", "warning"),
        default="error",
        help="the least severity that fails the check (exit 1): error (default), or warning "
        "too, e.g. a status the model does not know",
    )
    parser.add_argument(
        "--format", choices=("text", "json", "junit"), default="text", help="report format"
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report here, not stdout")
    parser.add_argument(
        "--coverage",
        action="store_true",
        help="list the edges and rules the input exercised (the JSON report always has them)",
    )
    parser.add_argument(
        "--expiry-grace",
        type=_seconds,
        default=60.0,
        metavar="SECONDS",
        help="how long after expires_at an active run is flagged (default 60)",
    )
    _add_parallel_arguments(parser)  # --jobs, --mergeable, --merge


def _seconds(text: str) -> float:
    """A non-negative, finite number of seconds (argparse turns the error into exit 2)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a non-negative number of seconds: {text!r}")
    return value


def run(args: argparse.Namespace) -> int:
    """Check the files and write the report; return the exit code."""
    if args.mergeable or args.merge or (args.jobs != 1 and _parallel(len(args.files), args.jobs)):
        return _run_parallel(args)
    from runmodel import Strictness

    from ..check import Checker, Severity
    from ..decode import CHECKED
    from ..observations import InputProblem, Location
    from ..readers import read
    from ..reports import Report, to_json, to_junit, to_text

    report = Report(keep_clean=args.format != "text")
    checker = Checker(
        Strictness(args.strictness),
        emit=report,
        expiry_grace=args.expiry_grace,
        fail_on=Severity(args.fail_on),
        wants_clean=report.wants,
    )
    progress = sys.stderr.isatty() and sum(_size(p) for p in args.files) >= _PROGRESS_BYTES
    for path in args.files:
        checkable, problems = checker.checkable, checker.problems
        if progress:
            shown = _Progress(checker, path)
            hooks = shown.repeated, shown.observed
            seen = _Seen(read(path, shape=CHECKED, repeated=hooks[0], observed=hooks[1]))
            shown.feed_all(seen)
        else:
            seen = _Seen(
                read(path, shape=CHECKED, repeated=checker.repeated, observed=checker.observed)
            )
            checker.feed_all(seen)
        if checker.checkable == checkable:
            if checker.problems == problems:
                checker.feed(InputProblem(Location(path), "input.unusable", seen.nothing()))
            else:
                checker.mark_unusable(path)
            why = next((v.message for v in report.other if v.loc and v.loc.file == path), "")
            print(f"runmodel check: {path}: unusable: {why}", file=sys.stderr)
    if progress:
        print("\r\033[K", end="", file=sys.stderr)
    summary = checker.finish()
    if args.format == "json":
        text = to_json(report)
    elif args.format == "junit":
        text = to_junit(report)
    else:
        text = to_text(report, coverage=args.coverage)
    return _write(text, args.output) or summary.exit_code


class _Seen:
    """Passes a reader's items through, noting the format read and what came out of it, to say
    why a file without a run, run step or message has nothing to check."""

    def __init__(self, items: Iterable[Item]) -> None:
        self._items = items
        self.format: str | None = None
        self.counts: dict[str, int] = {}

    def __iter__(self) -> Iterator[Item]:
        from ..observations import TraceInfo

        counts = self.counts
        for item in self._items:
            if isinstance(item, TraceInfo):
                self.format = self.format or item.format
            else:
                kind = type(item).__name__
                counts[kind] = counts.get(kind, 0) + 1
            yield item

    def nothing(self) -> str:
        """The message of an ``input.unusable`` finding for this file."""
        what = {"Exchange": "HTTP exchange", "Snapshot": "object", "StreamEvent": "stream event"}
        got = ", ".join(
            f"{n} {what.get(k, k)}{'' if n == 1 else 's'}" for k, n in self.counts.items()
        )
        fmt = f"read as {self.format}: " if self.format else ""
        return (
            f"nothing to check: no run, run step or message, and no request on one "
            f"({fmt}{got or 'nothing'})"
        )


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


class _Progress:
    """The checker's reading hooks and feeding, showing (on a terminal) how many items of a file
    were checked, every `_PROGRESS_EVERY`: the ones the hooks took count too."""

    def __init__(self, checker: Checker, path: str) -> None:
        self.checker = checker
        self.name = os.path.basename(path)
        self.start = checker.items
        self.next = _PROGRESS_EVERY

    def tick(self) -> None:
        n = self.checker.items - self.start
        if n >= self.next:
            self.next = n - n % _PROGRESS_EVERY + _PROGRESS_EVERY
            print(f"\rchecking {self.name}: {n:,} items", end="", file=sys.stderr, flush=True)

    def repeated(self, obj: dict[str, Any]) -> bool:
        took = self.checker.repeated(obj)
        self.tick()
        return took

    def observed(self, obj: dict[str, Any], loc: Location, seq: int) -> bool:
        took = self.checker.observed(obj, loc, seq)
        self.tick()
        return took

    def feed_all(self, items: Iterable[Item]) -> None:
        feed = self.checker.feed
        for item in items:
            feed(item)
            self.tick()


def _jobs_value(text: str) -> int:
    """``--jobs``: a number of processes >= 1, or 0 / ``auto`` for every core."""
    if text.strip().lower() == "auto":
        return 0
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a number of processes: {text!r} (a whole number >= 1, or 0 or auto)"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 (auto) or more: {text!r}")
    return value


def _add_parallel_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--jobs``, ``--mergeable`` and ``--merge`` on the ``check`` parser."""
    parser.add_argument(
        "--jobs",
        "-j",
        type=_jobs_value,
        default=1,
        metavar="N",
        help="check in N processes (0 or auto: one per core): many files in blocks, fewer files "
        "split by thread where N is enough for that to pay, else in one; the report is the same "
        "as with one (default 1)",
    )
    parser.add_argument(
        "--mergeable",
        action="store_true",
        help="with --format json: add what --merge needs to join this report with others",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="FILES are JSON reports written with --mergeable, of consecutive parts of the "
        "input: write the one report of the whole",
    )


# -- merging ---------------------------------------------------------------------------------


def _parallel(files: int, jobs: int) -> bool:
    """Whether ``--jobs`` checks in more than one process (`conformance.merge.parallel`); if not,
    the check of one process is written as without it."""
    from ..merge import parallel

    return parallel(files, jobs)


def _run_parallel(args: argparse.Namespace) -> int:
    """``runmodel check`` with ``--jobs``, ``--mergeable`` or ``--merge``: the exit code."""
    from runmodel import Strictness

    from ..check import Severity
    from ..check.shard import Journal
    from ..merge import MergeError, check_files, load_shards, merge_journals, render

    strictness, fail_on = Strictness(args.strictness), Severity(args.fail_on)
    if args.mergeable and (args.format != "json" or args.merge):
        print("runmodel check: --mergeable needs --format json, without --merge", file=sys.stderr)
        return 2
    journal: Journal | None = None
    if args.merge:
        try:
            journals = load_shards(args.files)
            merged = merge_journals(journals)
        except MergeError as exc:
            print(f"runmodel check: --merge: {exc}", file=sys.stderr)
            return 2
        if journals and (journals[0].strictness, journals[0].fail_on) != (strictness, fail_on):
            note = f"--strictness {journals[0].strictness.value} --fail-on {journals[0].fail_on}"
            print(f"runmodel check: --merge: the shards were checked with {note}", file=sys.stderr)
    else:
        jobs = 1 if args.mergeable else args.jobs
        merged, journal = check_files(
            args.files, jobs, strictness=strictness, fail_on=fail_on, expiry_grace=args.expiry_grace
        )
    for path, why in merged.unusable:
        print(f"runmodel check: {path}: unusable: {why}", file=sys.stderr)
    journal = journal if args.mergeable else None  # (--jobs checked in one process: no shard)
    text = render(merged, args.format, coverage=args.coverage, journal=journal)
    return _write(text, args.output) or int(merged.summary.exit_code)


def _write(text: str, output: str | None) -> int | None:
    """Write the report to `output` (None: standard output); 2 if it cannot be written."""
    if not output:
        sys.stdout.write(text)
        return None
    try:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        print(f"runmodel check: cannot write {output}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    return None
