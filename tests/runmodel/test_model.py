"""The model against the evidence: edges, grades, strictness levels, derived sets, path queries."""

from __future__ import annotations

import itertools

import pytest

from runmodel import (
    API_OBJECTS,
    LIFECYCLES,
    MARKS,
    MESSAGE,
    RESPONSE,
    RUN,
    STEP,
    Actor,
    Edge,
    Evidence,
    Grade,
    IllegalTransition,
    Lifecycle,
    ModelDefinitionError,
    Status,
    Strictness,
    register,
)

STRICT, PERMISSIVE = Strictness.STRICT, Strictness.PERMISSIVE

# The evidence file's edge table (section 2), written out independently of the model so that the
# model is tested against it rather than against itself: (source, dest, grade letters).
EVIDENCE_EDGES = {
    ("queued", "in_progress"): "D",
    ("in_progress", "completed"): "D",
    ("in_progress", "requires_action"): "D/O",
    ("in_progress", "incomplete"): "D/O",
    ("in_progress", "failed"): "D",
    ("requires_action", "queued"): "D",
    ("requires_action", "expired"): "D",
    ("in_progress", "expired"): "D/O",
    ("in_progress", "cancelling"): "D",
    ("cancelling", "cancelled"): "D",
    ("queued", "cancelling"): "I",
    ("requires_action", "cancelling"): "X/I",
    ("cancelling", "completed"): "I/X",
    ("cancelling", "failed"): "I/X",
    ("cancelling", "expired"): "I/X",
    ("queued", "failed"): "I",
    ("queued", "expired"): "I",
}


def test_run_has_the_nine_statuses_with_queued_initial() -> None:
    assert set(RUN.statuses) == {
        "queued", "in_progress", "requires_action", "cancelling", "cancelled",
        "failed", "completed", "incomplete", "expired",
    }  # fmt: skip
    assert RUN.initial == "queued"
    assert RUN.created_by.trigger == "create"


def test_edges_are_exactly_the_evidence_table_with_its_grades() -> None:
    got = {(e.source, e.dest): e.evidence.label for e in RUN.edges(PERMISSIVE)}
    assert got == EVIDENCE_EDGES


def test_strict_level_admits_only_documented_and_observed_edges() -> None:
    strict = {(e.source, e.dest) for e in RUN.edges(STRICT)}
    expected = {k for k, label in EVIDENCE_EDGES.items() if {"D", "O"} & set(label.split("/"))}
    assert strict == expected
    assert all(e.evidence.trusted for e in RUN.edges(STRICT))
    untrusted = set(RUN.edges(PERMISSIVE)) - set(RUN.edges(STRICT))
    assert untrusted
    assert all(not e.evidence.trusted for e in untrusted)


def test_requires_action_never_goes_straight_back_to_in_progress() -> None:
    for level in Strictness:
        assert RUN.edge("requires_action", "in_progress", level) is None
        path = RUN.path("requires_action", "in_progress", level)
        assert path is not None
        assert [e.trigger for e in path] == ["submit_tool_outputs", "start"]


@pytest.mark.parametrize("lifecycle", LIFECYCLES.values(), ids=lambda lc: lc.name)
def test_terminal_statuses_absorb(lifecycle) -> None:  # type: ignore[no-untyped-def]
    for status in lifecycle.terminal:
        assert lifecycle.out(status, STRICT) == ()
        for other in lifecycle.statuses:
            if other != status:
                assert not lifecycle.reachable(status, other, STRICT)
        # only a disputed report may leave a terminal status, at the permissive level
        assert all(e.grade is Grade.DISPUTED for e in lifecycle.out(status, PERMISSIVE))


def test_only_a_response_read_cancelled_then_completed_leaves_a_terminal_status() -> None:
    left = [e for lc in LIFECYCLES.values() for e in lc.all_edges if e.source in lc.terminal]
    assert [(e.source, e.dest) for e in left] == [("cancelled", "completed")]
    assert RESPONSE.reachable("cancelled", "completed", PERMISSIVE)


def test_a_trusted_edge_out_of_a_terminal_status_is_rejected() -> None:
    ev = Evidence.of("D", "spec")
    with pytest.raises(ModelDefinitionError, match="trusted edges leave: done"):
        Lifecycle(
            "toy",
            statuses=[Status("open", "", ev), Status("done", "", ev, terminal=True)],
            initial="open",
            created_by=Edge("", "open", "create", Actor.CLIENT, ev),
            edges=[
                Edge("open", "done", "finish", Actor.SERVER, ev),
                Edge("done", "open", "reopen", Actor.SERVER, ev),
            ],
        )


def test_derived_sets() -> None:
    assert RUN.terminal == {"cancelled", "failed", "completed", "incomplete", "expired"}
    assert RUN.settled == RUN.terminal | {"requires_action"}
    assert RUN.active == {"queued", "in_progress", "requires_action", "cancelling"}
    assert RUN.waiting == {"requires_action"}  # settled, not terminal: the client must act
    assert STEP.waiting == MESSAGE.waiting == frozenset()
    assert "cancelling" not in RUN.settled  # the classic bug: returning on cancelling
    assert STEP.terminal == {"cancelled", "failed", "completed", "expired"}
    assert MESSAGE.terminal == {"incomplete", "completed"}


@pytest.mark.parametrize("lifecycle", LIFECYCLES.values(), ids=lambda lc: lc.name)
def test_every_status_and_edge_carries_grade_and_source(lifecycle) -> None:  # type: ignore[no-untyped-def]
    for name in lifecycle.statuses:
        ev = lifecycle.status(name).evidence
        assert ev.grades
        assert all(isinstance(g, Grade) for g in ev.grades)
        assert ev.sources
        assert lifecycle.status(name).meaning
    for e in (*lifecycle.all_edges, lifecycle.created_by):
        assert e.evidence.grades
        assert e.evidence.sources
        assert isinstance(e.actor, Actor)
        assert e.trigger


def test_polling_skips_states_but_never_goes_back() -> None:
    path = RUN.path("queued", "completed")
    assert path is not None
    assert [e.dest for e in path] == ["in_progress", "completed"]
    assert RUN.path("completed", "in_progress", PERMISSIVE) is None
    assert RUN.path("in_progress", "queued") is not None  # via requires_action and a submit
    assert RUN.path("queued", "queued") == ()


def test_second_round_is_a_nonempty_cycle() -> None:
    cycle = RUN.path("requires_action", "requires_action", nonempty=True)
    assert cycle is not None
    assert [e.trigger for e in cycle] == ["submit_tool_outputs", "start", "require_action"]
    assert RUN.path("completed", "completed", PERMISSIVE, nonempty=True) is None


def test_level_needed_names_the_strictest_level() -> None:
    assert RUN.level_needed("queued", "completed") is STRICT
    # requires_action → cancelling: the only strict route goes through a submit; direct needs X/I
    assert RUN.edge("requires_action", "cancelling", STRICT) is None
    assert RUN.edge("requires_action", "cancelling", PERMISSIVE) is not None
    assert RUN.level_needed("cancelling", "completed") is PERMISSIVE
    assert RUN.level_needed("cancelling", "expired") is PERMISSIVE
    assert RUN.level_needed("completed", "queued") is None


def test_every_pair_path_is_consistent_with_reachability() -> None:
    for level, a, b in itertools.product(Strictness, RUN.statuses, RUN.statuses):
        path = RUN.path(a, b, level)
        assert (path is not None) == RUN.reachable(a, b, level)
        if path:
            assert path[0].source == a
            assert path[-1].dest == b
            assert all(x.dest == y.source for x, y in itertools.pairwise(path))
            assert all(level.admits(e.evidence) for e in path)


def test_triggers_by_actor() -> None:
    client_moves = {e.trigger for e in RUN.triggers("requires_action", Actor.CLIENT)}
    assert client_moves == {"submit_tool_outputs"}
    assert {e.trigger for e in RUN.triggers("requires_action", Actor.CLIENT, PERMISSIVE)} == {
        "submit_tool_outputs",
        "cancel",
    }
    assert {e.trigger for e in RUN.triggers("in_progress", Actor.CLIENT)} == {"cancel"}
    assert RUN.triggers("queued", Actor.CLIENT) == ()
    assert {e.trigger for e in RUN.triggers("requires_action", Actor.CLOCK)} == {"expire"}
    for status in RUN.terminal:
        assert RUN.triggers(status) == ()


def test_tracker_moves_through_transitions_and_rejects_illegal_triggers() -> None:
    t = RUN.tracker()
    assert t.status == "queued"
    for trigger in ("start", "require_action", "submit_tool_outputs", "start", "complete"):
        t.fire(trigger)
    assert t.status == "completed"
    assert t.terminal
    assert [e.trigger for e in t.history][-1] == "complete"
    with pytest.raises(IllegalTransition) as info:
        t.fire("cancel")
    assert info.value.status == "completed"
    assert info.value.trigger == "cancel"
    assert "'cancel'" in str(info.value)
    assert "'completed'" in str(info.value)
    assert "terminal" in str(info.value)


def test_tracker_has_no_automatic_back_doors() -> None:
    t = RUN.tracker()
    assert not hasattr(t, "to_completed")
    assert not hasattr(t, "to_in_progress")


def test_tracker_strictness_decides_disputed_moves() -> None:
    strict = RUN.tracker(STRICT)
    strict.fire("start")
    strict.fire("require_action")
    with pytest.raises(IllegalTransition) as info:
        strict.fire("cancel")
    assert info.value.legal == ("submit_tool_outputs", "expire")
    permissive = RUN.tracker(PERMISSIVE)
    permissive.fire("start")
    permissive.fire("require_action")
    assert permissive.fire("cancel").dest == "cancelling"


def test_step_and_message_lifecycles() -> None:
    assert STEP.initial == "in_progress"
    assert {e.dest for e in STEP.edges()} == STEP.terminal
    assert MESSAGE.initial == "in_progress"
    assert {e.dest for e in MESSAGE.edges()} == MESSAGE.terminal
    assert STEP.fire("in_progress", "expire").actor is Actor.CLOCK


# -- what a client cannot see, and the best-attested explanation -----------------------------


def test_closure_is_what_unseen_moves_can_reach() -> None:
    server = [Actor.SERVER]
    assert RUN.closure("queued", Strictness.STRICT, server) == {
        "queued",
        "in_progress",
        "requires_action",
        "completed",
        "incomplete",
        "failed",
    }
    # a run waiting for tool outputs stays there until the client acts, or the clock expires it
    assert RUN.closure("requires_action", Strictness.STRICT, server) == {"requires_action"}
    assert RUN.closure("requires_action") == {"requires_action", "expired"}
    assert RUN.closure("completed") == {"completed"}
    # permissive adds the inferred server edges (queued → failed)
    assert "failed" in RUN.closure("cancelling", Strictness.PERMISSIVE, server)
    assert "failed" not in RUN.closure("cancelling", Strictness.STRICT, server)
    # and no client edge is ever taken unseen
    for s in RUN.statuses:
        for lv in Strictness:
            assert "cancelling" not in RUN.closure(s, lv, server) or s == "cancelling"


def test_best_path_prefers_the_highest_grade_over_the_shortest() -> None:
    shortest = RUN.path("queued", "cancelling", Strictness.PERMISSIVE)
    best = RUN.best_path("queued", "cancelling", Strictness.PERMISSIVE)
    assert shortest is not None
    assert best is not None
    assert [e.grade.letter for e in shortest] == ["I"]
    assert [(e.source, e.dest) for e in best] == [
        ("queued", "in_progress"),
        ("in_progress", "cancelling"),
    ]
    # where only an untrusted edge explains it, that is the best there is
    only = RUN.best_path("cancelling", "completed", Strictness.PERMISSIVE)
    assert only is not None
    assert [e.evidence.label for e in only] == ["I/X"]
    assert RUN.best_path("cancelling", "completed") is None
    # `allow` restricts it: without the server's start, the shortcut is all that is left
    no_start = RUN.best_path(
        "queued", "cancelling", Strictness.PERMISSIVE, allow=lambda e: e.trigger != "start"
    )
    assert no_start is not None
    assert [e.grade.letter for e in no_start] == ["I"]


def test_marks_say_which_fields_prove_a_visit() -> None:
    assert MARKS["run"]["in_progress"] == ("started_at",)
    assert MARKS["run"]["queued"] == ()
    assert MARKS["run"]["cancelling"] == ()


def test_each_api_object_names_one_lifecycle() -> None:
    assert {k: lc.name for k, lc in API_OBJECTS.items()} == {
        "thread.run": "run",
        "thread.run.step": "run_step",
        "thread.message": "message",
        "response": "response",
    }
    ev = Evidence.of("D", "spec")
    toy = Lifecycle(
        "toy_response",
        statuses=[Status("open", "", ev), Status("done", "", ev, terminal=True)],
        initial="open",
        api_object="response",
        created_by=Edge("", "open", "create", Actor.CLIENT, ev),
        edges=[Edge("open", "done", "finish", Actor.SERVER, ev)],
    )
    with pytest.raises(ModelDefinitionError, match="API object 'response' is taken"):
        register(toy)
    assert "toy_response" not in LIFECYCLES
