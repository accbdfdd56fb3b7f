"""Coverage-guided fuzzing of the readers with atheris (libFuzzer), on demand (not a test).

Each target fuzzes `conformance.readers.read` from seeds of one format (the fixtures, cut to a
few entries so that runs are fast, with a dictionary of the formats' keys and tokens); the ``sse``
target fuzzes the SSE parser, comparing a body parsed whole with the same body fed in chunks.
A failure is an exception escaping ``read``, an ``input.internal_error``, a problem without a
location, a line number outside the file, or (sse) events that depend on the chunking. Each
distinct failure is printed once with the input saved; the fuzzing goes on to the budget.

Run: ``python bench/fuzz_readers.py [--seconds S] [--target NAME ...] [--out DIR]``. Needs
atheris (``pip install atheris`` in a virtual environment with this project installed). Prints,
per target, the inputs tried, the coverage libFuzzer reached (edges), and each distinct failure.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this tree's conformance, whatever is installed
FIXTURES = ROOT / "tests" / "fixtures" / "traces"
TARGETS = (
    "trace",
    "vcr-yaml",
    "vcr-json",
    "har",
    "ruby-vcr",
    "betamax",
    "okreplay",
    "go-vcr",
    "test-proxy",
    "exvcr",
    "nock",
    "polly",
    "objects-jsonl",
    "objects-json",
    "printed",
    "sse",
)
WHOLE_FILE = {"input.empty", "input.binary", "input.unknown_format", "input.io_error"}
TOKENS = [
    "object", "id", "status", "kind", "seq", "data", "event", "log", "entries", "interactions",
    "request", "response", "headers", "body", "string", "content", "encoding", "text", "method",
    "url", "uri", "code", "version", "format", "exchange", "wall", "mono", "count", "lost",
    "stream", "query", "path", "postData", "startedDateTime", "name", "value", "header", "footer",
    "runmodel-trace", "thread.run", "thread.run.step", "thread.message", "list", "[DONE]",
    "text/event-stream", "content-type", "content-encoding", "gzip", "base64", "event: ",
    "data: ", "\r\n", "\n\n", "interactions:", "- request:", "!!binary", "Run(", "RunStep(",
    "Message(", "ThreadMessage(", "http://[::1]/", "null", "true", "-1", "1e999",
    "http_interactions:", "http_interactions", "base64_string", "recorded_with", "betamax/",
    "!tape\n", "url:", "code:", "Entries", "RequestUri", "RequestMethod", "RequestBody",
    "StatusCode", "ResponseHeaders", "ResponseBody", "status_code", "scope", "rawHeaders",
    "responseIsBinary", "_recordingName", "Polly.JS",
]  # fmt: skip
FOREIGN = {  # target -> its fixture and where it keeps its entries
    "ruby-vcr": ("lifecycle.ruby-vcr.yml", ("http_interactions",)),
    "betamax": ("lifecycle.betamax.json", ("http_interactions",)),
    "okreplay": ("lifecycle.okreplay.yaml", ("interactions",)),
    "go-vcr": ("lifecycle.go-vcr-v2.yaml", ("interactions",)),
    "test-proxy": ("lifecycle.test-proxy.json", ("Entries",)),
    "exvcr": ("lifecycle.exvcr.json", ()),
    "nock": ("lifecycle.nock.json", ()),
    "polly": ("lifecycle.polly.har", ("log", "entries")),
}


def seeds(target: str) -> list[bytes]:
    """Small inputs of the target's format, cut from the fixtures (the streamed entry kept)."""
    import yaml

    def text(name: str) -> bytes:
        return (FIXTURES / name).read_bytes()

    def ends(items: list[Any]) -> list[Any]:
        return items[:2] + items[-1:]

    if target == "trace":
        lines = text("lifecycle.trace.jsonl").splitlines(keepends=True)
        return [b"".join(lines[:3] + lines[-4:]), b"".join(lines[:2])]
    if target == "vcr-yaml":
        doc = yaml.safe_load(text("lifecycle.vcr.yaml"))
        doc["interactions"] = ends(doc["interactions"])
        return [yaml.safe_dump(doc).encode()]
    if target == "vcr-json":
        doc = json.loads(text("lifecycle.vcr.json"))
        doc["interactions"] = ends(doc["interactions"])
        return [json.dumps(doc, indent=1).encode()]
    if target == "har":
        doc = json.loads(text("lifecycle.har"))
        doc["log"]["entries"] = ends(doc["log"]["entries"])
        return [json.dumps(doc, indent=1).encode()]
    if target in FOREIGN:
        name, path = FOREIGN[target]
        data = text(name)
        tape = b"!tape\n" if data.startswith(b"!tape\n") else b""
        yamlish = name.endswith((".yaml", ".yml"))
        doc = yaml.safe_load(data.removeprefix(tape)) if yamlish else json.loads(data)
        if not path:
            doc = ends(doc)
        else:
            holder = doc
            for key in path[:-1]:
                holder = holder[key]
            holder[path[-1]] = ends(holder[path[-1]])
        return [tape + (yaml.safe_dump(doc).encode() if yamlish else json.dumps(doc).encode())]
    lines = text("lifecycle.objects.jsonl").splitlines(keepends=True)
    if target == "objects-jsonl":
        return [b"".join(lines[:4])]
    if target == "objects-json":
        return [b"[" + b",\n".join(line.strip() for line in lines[:3]) + b"]"]
    if target == "printed":
        return [text("lifecycle.printed.log")[:3000], text("lesson.printed.log")[:3000]]
    body = yaml.safe_load(text("lifecycle.vcr.yaml"))["interactions"][-1]["response"]["body"]
    return [body["string"].encode()[:4000], b"event: x\r\ndata: {}\r\r: c\nid: 1\n\n"]


def _escaped(token: str) -> str:
    """A libFuzzer dictionary entry: printable ASCII as is, other bytes as ``\\xNN``."""
    return "".join(
        chr(b) if 32 <= b < 127 and b not in b'"\\' else f"\\x{b:02x}" for b in token.encode()
    )


# -- the child: one target under atheris ------------------------------------------------------


def child(target: str, out: Path) -> None:
    import atheris

    with atheris.instrument_imports(include=["conformance"]):
        from conformance.observations import InputProblem
        from conformance.readers import PROBLEM_CODES, read
        from conformance.sse import SSEParser, parse_sse

    print(f"fuzzing {sys.modules['conformance.readers'].__file__}", flush=True)
    tried = 0  # (libFuzzer's final statistics count the inputs too)
    failures: set[str] = set()
    path = out / f".input-{target}"  # each input goes through a file, as users' files do

    def fail(what: str, data: bytes) -> None:
        key = re.sub(r"\d+", "N", what)[:200]
        if key not in failures:
            failures.add(key)
            name = out / f"{target}-{hashlib.sha1(data).hexdigest()[:12]}"
            name.write_bytes(data)
            print(f"\nFAILURE [{target}] after {tried} inputs: {what}\n  input: {name}", flush=True)

    def one_reader(data: bytes) -> None:
        nonlocal tried
        tried += 1
        path.write_bytes(data)
        try:
            items = list(read(path))
        except Exception as exc:
            fail(f"{type(exc).__name__} escaped read: {exc}", data)
            return
        lines = data.count(b"\n") + 1
        for item in items:
            if item.loc.line is not None and not 1 <= item.loc.line <= lines:
                fail(f"line {item.loc.line} outside the file: {item}", data)
            if isinstance(item, InputProblem):
                if item.code == "input.internal_error" or item.code not in PROBLEM_CODES:
                    fail(f"{item.code}: {item.message}", data)
                elif item.code not in WHOLE_FILE and item.loc.line is None and not item.loc.where:
                    fail(f"{item.code} without a location: {item.message}", data)

    def one_sse(data: bytes) -> None:
        nonlocal tried
        tried += 1
        fdp = atheris.FuzzedDataProvider(data)
        cuts = sorted(fdp.ConsumeIntListInRange(fdp.ConsumeIntInRange(0, 8), 0, 4096))
        body = fdp.ConsumeBytes(fdp.remaining_bytes())
        try:
            whole = parse_sse(body)
            parser = SSEParser()
            got = []
            for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True):
                got += parser.feed(body[min(a, b) : b])
            parser.finish()
        except Exception as exc:
            fail(f"{type(exc).__name__} escaped the SSE parser: {exc}", data)
            return
        if got != whole:
            fail("events depend on the chunking", data)

    atheris.Setup(
        [sys.argv[0], *sys.argv[sys.argv.index("--") + 1 :]],
        one_sse if target == "sse" else one_reader,
    )
    atheris.Fuzz()


# -- the parent: a budget per target, a child each ---------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="budget per target (default 60)")
    parser.add_argument("--target", nargs="*", choices=TARGETS, default=list(TARGETS))
    parser.add_argument("--out", type=Path, default=None, help="where failing inputs go")
    parser.add_argument("--child", choices=TARGETS, help=argparse.SUPPRESS)
    args, _ = parser.parse_known_args(
        sys.argv[1 : sys.argv.index("--")] if "--" in sys.argv else None
    )
    try:
        import atheris  # noqa: F401
    except ImportError:
        print(
            "atheris is not installed: pip install atheris (Linux x86-64 wheels)", file=sys.stderr
        )
        return 2
    out = args.out or Path(tempfile.mkdtemp(prefix="fuzz-readers-"))
    out.mkdir(parents=True, exist_ok=True)
    if args.child:
        child(args.child, out)
        return 0
    work = Path(tempfile.mkdtemp(prefix="fuzz-corpus-"))
    dictionary = work / "tokens.dict"
    dictionary.write_text("".join(f'"{_escaped(t)}"\n' for t in TOKENS))
    total = 0
    print(f"{'target':<14} {'inputs':>9} {'per s':>7} {'cov':>6} {'failures':>8}")
    for target in args.target:
        corpus = work / target
        corpus.mkdir()
        for i, seed in enumerate(seeds(target)):
            (corpus / f"seed{i}").write_bytes(seed)
        command = [
            sys.executable, __file__, "--child", target, "--out", str(out), "--",
            f"-max_total_time={args.seconds}", f"-dict={dictionary}", "-max_len=16384",
            "-timeout=20", "-print_final_stats=1", str(corpus),
        ]  # fmt: skip
        started = time.monotonic()
        run = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.monotonic() - started
        log = run.stdout + run.stderr
        (out / f"{target}.log").write_text(log)
        executed = re.findall(r"^stat::number_of_executed_units: (\d+)", log, re.M)
        tried = int(executed[-1]) if executed else 0
        cov = re.findall(r"cov: (\d+)", log)
        found = re.findall(r"^FAILURE .*\n  input: .*$", log, re.M)
        total += tried
        print(
            f"{target:<14} {tried:>9} {tried / elapsed:>7.0f} {cov[-1] if cov else '?':>6} "
            f"{len(found):>8}",
            flush=True,
        )
        for line in found:
            print("  " + line.replace("\n", "\n  "))
        if not executed:
            print(f"  libFuzzer stopped early (exit {run.returncode}); see {out / target}.log")
        (out / f".input-{target}").unlink(missing_ok=True)
    shutil.rmtree(work)
    print(f"total inputs tried: {total}; logs and failing inputs: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
