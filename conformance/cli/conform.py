"""``runmodel conform``: the scenario suite against a server (the embedded emulator by default),
recorded and checked; see `conformance.conform` for the runs scenarios and
`conformance.conform_responses` for the Responses API's (``--api responses``)."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..conform import RUNS, Suite
from ..conform_responses import RESPONSES
from ._options import add_strictness

__all__ = ["SUITES", "configure", "run"]

SUITES: dict[str, Suite] = {s.api: s for s in (RUNS, RESPONSES)}
"""Each ``--api`` and its suite."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Declare ``runmodel conform``'s arguments."""
    parser.add_argument("--base-url", help="a server to check (default: the embedded emulator)")
    parser.add_argument("--api-key", default=None, help="its key (default: $OPENAI_API_KEY)")
    parser.add_argument(
        "--api",
        choices=tuple(SUITES),
        default=RUNS.api,
        help="which API's suite: Assistants runs, or the Responses API's background mode",
    )
    parser.add_argument(
        "--scenarios",
        default=None,
        metavar="LIST",
        help="comma-separated, among "
        + "; ".join(f"{','.join(s.scenarios)} (--api {s.api})" for s in SUITES.values()),
    )
    add_strictness(parser)
    parser.add_argument("--slow", action="store_true", help="also wait out a real expiry")
    parser.add_argument(
        "--trace",
        "-o",
        type=Path,
        default=None,
        help="keep the recorded trace here (an existing trace is kept unless --force)",
    )
    parser.add_argument(
        "--force", action="store_true", help="overwrite the --trace file if it already exists"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")


@contextlib.contextmanager
def _session(args: argparse.Namespace, trace: Path) -> Iterator[tuple[Any, Any]]:
    import os

    from ..recorder import record
    from ..sdk import quiet_assistants_deprecation

    with record(trace) as recorder, quiet_assistants_deprecation():
        if args.base_url is None:
            from ..emulator import BASE_URL, Clock, Emulator
            from ..emulator.transport import transport

            emulator = Emulator(clock=Clock(start=time.time()), strictness=args.strictness)
            client = recorder.client(
                transport=transport(emulator), api_key="sk-conform", base_url=BASE_URL
            )
            with emulator.virtual_time(), contextlib.closing(client):
                yield client, emulator
        else:
            key = args.api_key or os.environ.get("OPENAI_API_KEY") or "sk-none"
            client = recorder.client(api_key=key, base_url=args.base_url, max_retries=1)
            with contextlib.closing(client):
                yield client, None


def run(args: argparse.Namespace) -> int:
    """Run the suite and report each scenario."""
    import openai

    from ..conform import SuiteInterrupted, judge_trace, play_scenarios
    from .fuzz import ProgressLine

    suite = SUITES[args.api]
    names = None
    if args.scenarios is not None:  # an empty list is a mistake, not "all of them"
        names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
        unknown = [n for n in names if n not in suite.scenarios]
        if unknown or not names:
            what = f"unknown scenario {', '.join(unknown)}" if unknown else "names no scenario"
            among = "" if suite is RUNS else f" (--api {suite.api})"
            print(
                f"runmodel conform: --scenarios {args.scenarios!r}: {what}; "
                f"choose from {','.join(suite.scenarios)}{among}",
                file=sys.stderr,
            )
            return 2
    kept = args.trace is not None and args.trace.is_file() and args.trace.stat().st_size
    if kept and not args.force:
        print(
            f"runmodel conform: {args.trace} already exists; choose another file, "
            "or add --force to overwrite it",
            file=sys.stderr,
        )
        return 2
    with tempfile.TemporaryDirectory() as folder:
        trace = args.trace or Path(folder) / "conform.jsonl"
        try:
            with _session(args, trace) as (client, emulator):
                try:
                    suite.probe(client)
                except openai.APIConnectionError as exc:
                    print(f"runmodel conform: cannot reach {args.base_url}: {exc}", file=sys.stderr)
                    return 2
                except openai.AuthenticationError:
                    print(
                        f"runmodel conform: {args.base_url} rejected the API key", file=sys.stderr
                    )
                    return 2
                line = ProgressLine(sys.stderr)
                try:
                    played = play_scenarios(
                        client,
                        emulator,
                        names or list(suite.scenarios),
                        args.slow,
                        progress=line.show,
                        suite=suite,
                    )
                    interrupted = False
                except SuiteInterrupted as stop:
                    played, interrupted = stop.played, True
                line.clear()
        except OSError as exc:
            print(f"runmodel conform: cannot write the trace: {exc}", file=sys.stderr)
            return 2
        if interrupted:
            print(
                f"runmodel conform: interrupted after {len(played)} scenarios; the results so far:",
                file=sys.stderr,
            )
        outcomes = judge_trace(trace, played, args.strictness)  # the trace is complete now
        failed = sum(o.result == "fail" for o in outcomes)
        if args.format == "json":
            rows = [
                {
                    "scenario": o.name,
                    "title": o.title,
                    "result": o.result,
                    "details": list(o.details),
                }
                for o in outcomes
            ]
            print(json.dumps(rows, indent=2))
        else:
            for o in outcomes:
                print(f"{o.result.upper():5} {o.name:16} {o.title}")
                for d in o.details:
                    print(f"        {d}")
            passed = sum(o.result == "pass" for o in outcomes)
            skipped = sum(o.result == "skip" for o in outcomes)
            print(f"\n{passed} passed, {failed} failed, {skipped} skipped")
        if interrupted:
            return 130
        return 1 if failed else 0
