"""Lifecycle diagrams: DOT and Mermaid text carry every status, edge, grade and mark; SVG parses;
the committed ``diagrams/`` folder is what ``runmodel diagram`` writes; a missing `dot` is said."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import runmodel.diagram as diagram_module
from runmodel import LIFECYCLES, RUN, Actor, Edge, Evidence, Grade, Lifecycle, Status, Strictness
from runmodel.cli import main
from runmodel.diagram import (
    GraphvizNotFound,
    NodeKind,
    dot_source,
    extract,
    mermaid,
    readme_snippet,
    render_coverage,
    svg,
    write_diagrams,
)
from tests.helpers import paths

STRICT, PERMISSIVE = Strictness.STRICT, Strictness.PERMISSIVE
DOC, OBS, INF, DIS = Grade.DOCUMENTED, Grade.OBSERVED, Grade.INFERRED, Grade.DISPUTED
REPO = paths.REPO
COMMITTED = REPO / "diagrams"
NEEDS_DOT = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` not on PATH")


def _toy() -> Lifecycle:
    """A lifecycle with one edge of each grade and each actor, and a settled status."""

    def ev(*grades: Grade) -> Evidence:
        return Evidence(grades, ("spec",))

    return Lifecycle(
        "toy",
        statuses=[
            Status("new", "just made", ev(DOC)),
            Status("waiting", "needs the client", ev(DOC)),
            Status("done", "finished", ev(DOC), terminal=True),
            Status("gone", "timed out", ev(DOC), terminal=True),
        ],
        initial="new",
        created_by=Edge("", "new", "make", Actor.CLIENT, ev(DOC)),
        edges=[
            Edge("new", "waiting", "ask", Actor.SERVER, ev(DOC, OBS)),
            Edge("waiting", "new", "answer", Actor.CLIENT, ev(OBS)),
            Edge("new", "done", "finish", Actor.SERVER, ev(INF, DIS)),
            Edge("waiting", "gone", "time_out", Actor.CLOCK, ev(DIS)),
            Edge("waiting", "done", "close", Actor.SERVER, ev(DOC)),
        ],
        also_settled=["waiting"],
    )


# -- a small DOT reader, so the tests look at the text rather than at the renderer's tables -----

_STMT = re.compile(
    r'^\s*("(?:[^"\\]|\\.)*"|[\w.]+)(?:\s*->\s*("(?:[^"\\]|\\.)*"|[\w.]+))?\s*\[(.*)\]$'
)
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|[^\s\]]+)')


def _unquote(text: str) -> str:
    return text[1:-1].replace('\\"', '"') if text.startswith('"') else text


def _parse_dot(
    text: str,
) -> tuple[dict[str, dict[str, str]], list[tuple[str, str, dict[str, str]]]]:
    """Nodes (name → attributes) and edges (source, dest, attributes) of a DOT text."""
    nodes: dict[str, dict[str, str]] = {}
    edges: list[tuple[str, str, dict[str, str]]] = []
    for line in text.splitlines():
        m = _STMT.match(line)
        if not m or m.group(1) in ("graph", "node", "edge"):
            continue
        attrs = {k: _unquote(v) for k, v in _ATTR.findall(m.group(3))}
        if m.group(2) is None:
            nodes[_unquote(m.group(1))] = attrs
        else:
            edges.append((_unquote(m.group(1)), _unquote(m.group(2)), attrs))
    return nodes, edges


def _model_edges(lc: Lifecycle, strictness: Strictness) -> list[tuple[str, str, str]]:
    return [
        (e.source, e.dest, f"{e.trigger} · {e.actor.value} · {e.evidence.label}")
        for e in lc.edges(strictness)
    ]


def _status_edges(text: str, lc: Lifecycle) -> list[tuple[str, str, dict[str, str]]]:
    _, edges = _parse_dot(text)
    return [(a, b, attrs) for a, b, attrs in edges if a in lc and b in lc]


# -- DOT -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LIFECYCLES))
def test_dot_draws_every_status_and_every_edge_with_its_label(name: str) -> None:
    lc = LIFECYCLES[name]
    nodes, _ = _parse_dot(dot_source(extract(lc, PERMISSIVE)))
    assert set(lc.statuses) <= set(nodes)
    got = [(a, b, attrs["label"]) for a, b, attrs in _status_edges(dot_source(extract(lc)), lc)]
    assert got == _model_edges(lc, PERMISSIVE)


def test_dot_line_style_follows_the_primary_grade() -> None:
    lc = _toy()
    edges = {(a, b): attrs for a, b, attrs in _status_edges(dot_source(extract(lc)), lc)}
    documented, observed = edges[("new", "waiting")], edges[("waiting", "new")]
    assert documented["style"] == observed["style"] == "solid"
    assert float(documented["penwidth"]) > float(observed["penwidth"])
    assert edges[("new", "done")]["style"] == "dashed"  # I/X: inferred first
    assert edges[("waiting", "gone")]["style"] == "dotted"
    run_edges = _status_edges(dot_source(extract(RUN)), RUN)
    assert {(a, b) for a, b, attrs in run_edges if attrs["style"] == "dashed"} == {
        (e.source, e.dest) for e in RUN.all_edges if e.grade is INF
    }


def test_dot_colour_tells_the_actor() -> None:
    text = dot_source(extract(RUN))
    colour: dict[str, set[str]] = {}
    for _, _, attrs in _status_edges(text, RUN):
        colour.setdefault(attrs["label"].split(" · ")[1], set()).add(attrs["color"])
    assert set(colour) == {a.value for a in Actor}
    assert all(len(c) == 1 for c in colour.values())  # one colour per actor
    assert len(set().union(*colour.values())) == len(Actor)  # and a different one for each


@pytest.mark.parametrize("name", list(LIFECYCLES))
def test_dot_marks_terminal_and_settled_statuses(name: str) -> None:
    lc = LIFECYCLES[name]
    nodes, _ = _parse_dot(dot_source(extract(lc)))
    assert {s for s in lc.statuses if nodes[s].get("peripheries") == "2"} == lc.terminal
    assert {s for s in lc.statuses if "(settled)" in nodes[s]["label"]} == lc.waiting
    assert {s for s in lc.statuses if "filled" in nodes[s].get("style", "")} == lc.settled


@pytest.mark.parametrize("name", list(LIFECYCLES))
def test_dot_starts_from_a_point_with_the_creating_edge(name: str) -> None:
    lc = LIFECYCLES[name]
    nodes, edges = _parse_dot(dot_source(extract(lc)))
    start = [a for a, b, attrs in edges if b == lc.initial and a not in lc]
    assert len(start) == 1
    assert nodes[start[0]]["shape"] == "point"
    created = next(attrs for a, b, attrs in edges if a == start[0])
    e = lc.created_by
    assert created["label"] == f"{e.trigger} · {e.actor.value} · {e.evidence.label}"


def _legend_label(text: str) -> str:
    """The graph's own label (``label=<…>`` at graph level): the title and the legend."""
    m = re.search(r"\blabel=(<<TABLE.*?</TABLE>>)", text)
    assert m is not None, text
    return m.group(1)


def test_dot_legend_names_each_style_used() -> None:
    text = dot_source(extract(_toy()))
    legend = _legend_label(text)
    for g in Grade:
        assert f"<B>{g.letter}</B> {g.value}" in legend
    _, edges = _parse_dot(text)
    for a in Actor:  # in the colour its edges are drawn in
        colour = next(
            attrs["color"] for _, _, attrs in edges if f" · {a.value} · " in attrs["label"]
        )
        assert f'<FONT COLOR="{colour}"><B>{a.value}</B></FONT>' in legend
    for kind in NodeKind:
        assert f"{kind.value}: {kind.description}" in legend
    assert "toy lifecycle (permissive view" in legend  # the title leads the same label


def test_the_legend_names_every_grade_a_label_shows_not_only_primary_ones() -> None:
    d = extract(RUN)
    shown = {
        letter for e in (d.created_by, *d.edges) for letter in e.edge.evidence.label.split("/")
    }
    assert "O" in shown  # D/O edges, whose primary grade is D
    legend = _legend_label(dot_source(d))
    note = mermaid(d)[mermaid(d).index("note right of") :]
    for g in Grade:
        assert (f"<B>{g.letter}</B> {g.value}" in legend) is (g.letter in shown)
        assert (f"{g.letter} {g.value}" in note) is (g.letter in shown)


def test_dot_is_legible_at_a_docs_width_and_its_legend_sits_under_it() -> None:
    """At about 1,100 px the run diagram is scaled by width; its legend must not widen it (no
    legend column beside the drawing) and its labels must be large enough to survive it."""
    text = dot_source(extract(RUN))
    assert "cluster_legend" not in text
    assert re.search(r"^\s*label=<<TABLE.* labelloc=b$", text, re.MULTILINE)  # the graph's own
    sizes = dict(re.findall(r"^\s*(node|edge) .*fontsize=(\d+)", text, re.MULTILINE))
    assert int(sizes["edge"]) >= 14
    assert int(sizes["node"]) >= 16


@NEEDS_DOT
def test_the_rendered_run_diagram_keeps_labels_legible_at_1100_px() -> None:
    """Laid out by Graphviz at 72 dpi, scaled to 1,100 px wide: every edge label stays >= 10 px."""
    root = ET.fromstring(svg(extract(RUN)))
    width = float(root.attrib["width"].removesuffix("pt"))
    scale = min(1.0, 1100 / width)
    ns = "{http://www.w3.org/2000/svg}"
    sizes = [
        float(text.attrib["font-size"])
        for group in root.iter(f"{ns}g")
        if group.attrib.get("class") == "edge"
        for text in group.iter(f"{ns}text")
    ]
    assert len(sizes) >= len(RUN.all_edges)
    assert min(sizes) * scale >= 10, (
        f"{width:.0f} pt wide: labels become {min(sizes) * scale:.1f} px"
    )


def test_strict_view_drops_inferred_and_disputed_edges() -> None:
    text = dot_source(extract(RUN, STRICT))
    got = [(a, b, attrs["label"]) for a, b, attrs in _status_edges(text, RUN)]
    assert got == _model_edges(RUN, STRICT)
    assert len(got) < len(RUN.all_edges)
    assert all(attrs["style"] == "solid" for _, _, attrs in _status_edges(text, RUN))
    assert "strict view" in text


def test_dot_is_deterministic() -> None:
    assert dot_source(extract(RUN)) == dot_source(extract(RUN))
    assert not re.search(r"\b20\d\d-\d\d-\d\d", dot_source(extract(RUN)))


# -- Mermaid ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(LIFECYCLES))
def test_mermaid_has_every_edge_the_initial_and_terminal_marks(name: str) -> None:
    lc = LIFECYCLES[name]
    text = mermaid(extract(lc))
    lines = [line.strip() for line in text.splitlines()]
    assert lines[0] == "stateDiagram-v2"
    moves = [tuple(re.split(r" --> | : ", line)) for line in lines if " --> " in line]
    e = lc.created_by
    assert moves[0] == ("[*]", lc.initial, f"{e.trigger} · {e.actor.value} · {e.evidence.label}")
    assert [m for m in moves if len(m) == 3][1:] == _model_edges(lc, PERMISSIVE)
    assert {m[0] for m in moves if m[1:] == ("[*]",)} == lc.terminal
    classes = dict(line.split()[2:0:-1] for line in lines if line.startswith("class "))
    assert set(classes.get("terminal", "").split(",")) == lc.terminal


def test_mermaid_marks_the_settled_status_and_carries_a_legend() -> None:
    text = mermaid(extract(RUN))
    assert 'state "requires_action (settled)" as requires_action' in text
    assert "class requires_action settled" in text
    note = text[text.index("note right of queued") : text.index("end note")]
    assert "trigger · actor · grades" in note
    for g in (DOC, INF, DIS):  # the grades the run's edges use
        assert f"{g.letter} {g.value}" in note
    assert "permissive checks only" in note


def test_mermaid_strict_view_lacks_inferred_and_disputed_edges() -> None:
    text = mermaid(extract(RUN, STRICT))
    assert not re.search(r" · [IX](/\w)?$", text, re.MULTILINE)
    assert len([line for line in text.splitlines() if " --> " in line and " : " in line]) == (
        len(RUN.edges(STRICT)) + 1
    )


def test_readme_snippet_is_the_committed_run_diagram_fenced() -> None:
    snippet = readme_snippet(RUN)
    assert snippet.startswith("```mermaid\nstateDiagram-v2\n")
    assert snippet == "```mermaid\n" + (COMMITTED / "run.mmd").read_text("utf-8") + "```\n"


# -- coverage --------------------------------------------------------------------------------


def test_coverage_labels_counts_and_greys_unexercised_edges() -> None:
    coverage = {("", "queued"): 5, ("queued", "in_progress"): 4, ("queued", "cancelling"): 1}
    d = extract(RUN, STRICT, coverage)
    text = dot_source(d)
    edges = {(a, b): attrs for a, b, attrs in _status_edges(text, RUN)}
    assert edges[("queued", "in_progress")]["label"] == "start · server · D · 4×"
    assert edges[("in_progress", "completed")]["label"].endswith(" · 0×")
    grey = {
        k
        for k, attrs in edges.items()
        if attrs["color"] == edges[("in_progress", "completed")]["color"]
    }
    assert grey == set(edges) - {("queued", "in_progress"), ("queued", "cancelling")}
    # an inferred edge hidden at strict is shown once it has been taken
    assert edges[("queued", "cancelling")]["label"] == "cancel · client · I · 1×"
    assert "create · client · D · 5×" in text
    assert "start · server · D · 4×" in mermaid(d)
    assert "count 0, never taken" in _legend_label(text)


def test_mermaid_coverage_greys_what_was_never_reached() -> None:
    """Mermaid cannot style one transition: untaken edges say 0×, unreached statuses are grey."""
    coverage = {("", "queued"): 1, ("queued", "in_progress"): 1, ("in_progress", "completed"): 1}
    text = mermaid(extract(RUN, PERMISSIVE, coverage))
    assert "classDef unreached fill:#f4f4f4,color:#9a9a9a" in text
    greyed = next(line for line in text.splitlines() if line.endswith(" unreached"))
    assert set(greyed.split()[1].split(",")) == set(RUN.statuses) - {
        "queued",
        "in_progress",
        "completed",
    }
    assert "class completed terminal" in text
    assert "grey dashed box: a status no taken edge reached" in text
    assert "unreached" not in mermaid(extract(RUN))


def test_coverage_of_a_move_the_model_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match=r"completed → queued"):
        extract(RUN, PERMISSIVE, {("completed", "queued"): 1})
    with pytest.raises(ValueError, match="negative"):
        extract(RUN, PERMISSIVE, {("queued", "in_progress"): -1})


def test_render_coverage_writes_coverage_files(tmp_path: Path) -> None:
    written = render_coverage(RUN, {("queued", "in_progress"): 2}, tmp_path, ("dot", "mmd"))
    assert [p.name for p in written] == ["run.coverage.dot", "run.coverage.mmd"]
    assert "start · server · D · 2×" in written[0].read_text("utf-8")


# -- SVG -------------------------------------------------------------------------------------


@NEEDS_DOT
@pytest.mark.parametrize("name", list(LIFECYCLES))
def test_svg_parses_and_shows_every_status_and_edge_label(name: str) -> None:
    lc = LIFECYCLES[name]
    root = ET.fromstring(svg(extract(lc)))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert set(lc.statuses) <= texts
    assert {label for _, _, label in _model_edges(lc, PERMISSIVE)} <= texts


# -- files and the command -------------------------------------------------------------------


def test_committed_diagrams_are_current(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["diagram"]) == 0
    fresh = tmp_path / "diagrams"
    expected = {f"{n}.{fmt}" for n in LIFECYCLES for fmt in ("dot", "mmd", "svg")}
    assert {p.name for p in COMMITTED.iterdir()} == expected, "run `runmodel diagram`"
    for name in sorted(n for n in expected if not n.endswith(".svg")):
        assert (fresh / name).read_text("utf-8") == (COMMITTED / name).read_text("utf-8"), (
            f"diagrams/{name} is stale: run `runmodel diagram` and commit the result"
        )


def test_command_prints_what_it_wrote(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--lifecycle", "run", "--strictness", "strict", "--format", "mmd,dot"]
    assert main(["diagram", *argv, "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"wrote {tmp_path / 'run.strict.dot'}", f"wrote {tmp_path / 'run.strict.mmd'}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.strict.dot", "run.strict.mmd"]


def test_unknown_format_is_an_argument_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagram", "--format", "dot,png"]) == 2
    assert "unknown format png" in capsys.readouterr().err


def _hide_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return tmp_path / "out"


def test_without_dot_the_default_run_writes_the_rest_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _hide_dot(tmp_path, monkeypatch)
    assert main(["diagram", "--output", str(out)]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}.{fmt}" for n in LIFECYCLES for fmt in ("dot", "mmd")
    )
    assert "no SVG written" in captured.err
    assert "Graphviz's `dot`" in captured.err
    assert "apt-get install graphviz" in captured.err
    assert "DOT and Mermaid files were written" in captured.err
    assert ".svg" not in captured.out


def test_without_dot_an_explicit_svg_request_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _hide_dot(tmp_path, monkeypatch)
    assert (
        main(["diagram", "--lifecycle", "message", "--format", "svg,dot", "--output", str(out)])
        == 2
    )
    assert [p.name for p in out.iterdir()] == ["message.dot"]
    assert "no SVG written" in capsys.readouterr().err
    assert (
        main(["diagram", "--lifecycle", "message", "--format", "svg", "--output", str(out / "x")])
        == 2
    )
    err = capsys.readouterr().err
    assert "Graphviz" in err
    assert "were written" not in err
    assert not (out / "x").exists()


def test_write_diagrams_refuses_svg_without_dot_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = _hide_dot(tmp_path, monkeypatch)
    with pytest.raises(GraphvizNotFound, match="apt-get install graphviz"):
        write_diagrams(RUN, out)
    assert not out.exists()
    with pytest.raises(GraphvizNotFound):
        svg(extract(RUN))


def test_public_names_are_all_exported() -> None:
    # (names starting "@" are added by pytest's assertion rewriting of plugin packages)
    public = {n for n in vars(diagram_module) if not n.startswith(("_", "@"))} - {"annotations"}
    public -= {"Coverage"}  # the old name of EdgeCounts, kept importable
    assert public == set(diagram_module.__all__)


def test_an_unwritable_output_is_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder", "utf-8")
    assert main(["diagram", "--format", "dot", "--output", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write to {blocker}" in err
