"""Applying the mapping in the store (SQLite file and PostgreSQL): rule
assignments, history, remaps that write only changes, manual overrides,
transferred reports, dry runs, refusals that leave the store untouched."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lapor_bridge.errors import MappingInvalid
from lapor_bridge.mapping import (
    MappingRequestError,
    assign_manual,
    assign_reports,
    load_mapping,
    unassign_manual,
)
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import ReportRow

from .conftest import (
    NOW,
    SEED_TOPICS,
    add_reports,
    add_topics,
    assignments,
    history,
    history_count,
    mapping_of,
    report_row,
    write_mapping,
)

RULES = """\
rules:
  - id: pju
    when: {topic: 104}
    opd: DISHUB
  - id: infra
    when: {topic: 100}
    opd: DPUPR
  - id: banjir
    when: {keyword: [banjir, "banjir rob"]}
    opd: BPBD
    complex: true
    co_opd: [DPUPR, DINSOS]
  - id: moga
    when: {kecamatan: Moga}
    opd: KEC_MOGA
"""


@pytest.fixture
def store(engine):
    add_topics(engine)
    add_reports(
        engine,
        [
            report_row(1, topic_id=101),  # infra
            report_row(2, topic_id=104),  # pju
            report_row(3, topic_id=1200, content="Banjir rob merendam rumah"),  # banjir
            report_row(4, topic_id=1200, kecamatan="Moga"),  # moga
            report_row(5, topic_id=1200, kecamatan="Belik"),  # nothing: default
            report_row(6, topic_id=None, title="Perjalanan dinas"),  # nothing: default
        ],
    )
    return engine


def remap(engine, mapping, ids=None, *, actor="remap", dry_run=False, at=NOW):
    with write_session(engine) as session:
        return assign_reports(session, mapping, ids, actor=actor, now=at, dry_run=dry_run)


def test_first_assignment_of_every_report_with_history(store, tmp_path):
    mapping = mapping_of(tmp_path, RULES)
    result = remap(store, mapping, actor="sync")
    assert (result.examined, len(result.changes), result.unchanged, result.unmapped) == (6, 6, 0, 2)
    assert assignments(store) == {
        1: ("DPUPR", "rule:infra", (), False),
        2: ("DISHUB", "rule:pju", (), False),
        3: ("BPBD", "rule:banjir", ("DPUPR", "DINSOS"), True),
        4: ("KEC_MOGA", "rule:moga", (), False),
        5: ("TRIASE", "default", (), False),
        6: ("TRIASE", "default", (), False),
    }
    rows = history(store, 3)
    assert len(rows) == 1
    h = rows[0]
    assert (h.actor, h.from_opd, h.from_mapped_by, h.to_opd, h.mapped_by, h.complex, h.co_opd) == (
        "sync", None, None, "BPBD", "rule:banjir", True, ["DPUPR", "DINSOS"],
    )  # fmt: skip
    assert h.at == NOW
    assert h.reason == f"rule banjir ({tmp_path / 'rules.yaml'}:8): keyword 'banjir'"
    assert history(store, 5)[0].reason == "no rule matched: the default unit's triage queue"


def test_rerun_without_changes_writes_nothing(store, tmp_path):
    mapping = mapping_of(tmp_path, RULES)
    remap(store, mapping)
    before = (assignments(store), history_count(store))
    result = remap(store, mapping, at=NOW + timedelta(hours=1))
    assert (len(result.changes), result.unchanged) == (0, 6)
    assert (assignments(store), history_count(store)) == before


def test_edited_mapping_moves_only_what_changed(store, tmp_path):
    remap(store, mapping_of(tmp_path / "v1", RULES))
    edited = RULES.replace("opd: DISHUB", "opd: DPUPR").replace("complex: true", "complex: false")
    later = NOW + timedelta(days=1)
    result = remap(store, mapping_of(tmp_path / "v2", edited), at=later)
    assert sorted((c.tracking_id, c.from_opd, c.to_opd) for c in result.changes) == [
        (2, "DISHUB", "DPUPR"),
        (3, "BPBD", "BPBD"),  # same unit, no longer complex: still a change, kept in history
    ]
    assert [(m.from_opd, m.to_opd, m.count, m.examples) for m in result.moves()] == [
        ("BPBD", "BPBD", 1, (3,)),
        ("DISHUB", "DPUPR", 1, (2,)),
    ]
    assert assignments(store)[3] == ("BPBD", "rule:banjir", ("DPUPR", "DINSOS"), False)
    moved = history(store, 2)
    assert [(h.from_opd, h.to_opd, h.actor, h.at) for h in moved] == [
        (None, "DISHUB", "remap", NOW),
        ("DISHUB", "DPUPR", "remap", later),
    ]
    assert history_count(store) == 6 + 2


def test_dry_run_reports_the_moves_and_writes_nothing(store, tmp_path):
    remap(store, mapping_of(tmp_path / "v1", RULES))
    before = (assignments(store), history_count(store))
    edited = RULES.replace("opd: KEC_MOGA", "opd: DPUPR")
    with read_session(store) as session:
        result = assign_reports(
            session, mapping_of(tmp_path / "v2", edited), None, actor="remap", now=NOW, dry_run=True
        )
    assert result.dry_run
    assert [(c.tracking_id, c.from_opd, c.to_opd) for c in result.changes] == [
        (4, "KEC_MOGA", "DPUPR")
    ]
    assert (assignments(store), history_count(store)) == before


def test_manual_assignment_beats_rules_and_survives_remaps(store, tmp_path):
    mapping = mapping_of(tmp_path, RULES)
    remap(store, mapping)
    with write_session(store) as session:
        change = assign_manual(
            session,
            mapping,
            1,
            "DISHUB",
            reason="jalan nasional: koordinasi Dishub",
            actor="sri",
            now=NOW,
        )
    assert (change.from_opd, change.to_opd, change.mapped_by) == ("DPUPR", "DISHUB", "manual")
    result = remap(store, mapping, at=NOW + timedelta(days=2))
    assert result.manual == 1 and result.changes == []
    edited = RULES.replace("opd: DPUPR\n", "opd: DINSOS\n", 1)  # the rule for report 1 changes
    result = remap(store, mapping_of(tmp_path / "v2", edited))
    assert 1 not in {c.tracking_id for c in result.changes}
    assert assignments(store)[1] == ("DISHUB", "manual", (), False)
    h = history(store, 1)[-1]
    assert (h.actor, h.from_opd, h.to_opd, h.mapped_by, h.reason) == (
        "sri", "DPUPR", "DISHUB", "manual", "jalan nasional: koordinasi Dishub",
    )  # fmt: skip


def test_manual_assignment_keeps_complexity_and_drops_itself_from_co_opd(store, tmp_path):
    mapping = mapping_of(tmp_path, RULES)
    remap(store, mapping)
    with write_session(store) as session:
        assign_manual(session, mapping, 3, "DPUPR", reason="tanggul", actor="sri", now=NOW)
    assert assignments(store)[3] == ("DPUPR", "manual", ("DINSOS",), True)


def test_manual_assignment_of_a_report_never_assigned(store, tmp_path):
    mapping = mapping_of(tmp_path, RULES)
    with write_session(store) as session:
        assign_manual(session, mapping, 3, "DINSOS", reason="pengungsi", actor="sri", now=NOW)
    assert assignments(store) == {3: ("DINSOS", "manual", ("DPUPR",), True)}
    assert [(h.from_opd, h.to_opd) for h in history(store)] == [(None, "DINSOS")]


def test_unassign_gives_the_report_back_to_the_rules(store, tmp_path):
    mapping = mapping_of(tmp_path, RULES)
    remap(store, mapping)
    with write_session(store) as session:
        assign_manual(session, mapping, 2, "DPUPR", reason="x", actor="sri", now=NOW)
    with write_session(store) as session:
        change = unassign_manual(session, mapping, 2, reason="salah pilih", actor="budi", now=NOW)
    assert (change.from_opd, change.to_opd, change.mapped_by) == ("DPUPR", "DISHUB", "rule:pju")
    assert assignments(store)[2] == ("DISHUB", "rule:pju", (), False)
    assert history(store, 2)[-1].reason.startswith(
        "manual assignment removed (salah pilih); rule pju"
    )
    with (
        write_session(store) as session,
        pytest.raises(MappingRequestError, match="no manual assignment"),
    ):
        unassign_manual(session, mapping, 2, reason="again", actor="budi", now=NOW)


@pytest.mark.parametrize(
    ("tracking_id", "opd", "reason", "message"),
    [
        (1, "DPUPRR", "x", "'DPUPRR' is not a unit of the mapping; did you mean DPUPR?"),
        (1, "DPUPR", "  ", "a manual assignment needs a reason: give --reason TEXT"),
        (
            999,
            "DPUPR",
            "x",
            "no report 999 in the store; check the tracking id or run `lapor-bridge sync` first",
        ),
    ],
)
def test_manual_assignment_refusals_change_nothing(
    store, tmp_path, tracking_id, opd, reason, message
):
    mapping = mapping_of(tmp_path, RULES)
    remap(store, mapping)
    before = (assignments(store), history_count(store))
    with pytest.raises(MappingRequestError) as caught, write_session(store) as session:
        assign_manual(session, mapping, tracking_id, opd, reason=reason, actor="sri", now=NOW)
    assert caught.value.message == message
    assert (assignments(store), history_count(store)) == before


def test_transferred_report_keeps_its_last_assignment_and_is_not_remapped(store, tmp_path):
    remap(store, mapping_of(tmp_path / "v1", RULES))
    add_reports(store, [report_row(7, topic_id=101, status="DIALIHKAN", transferred=True)])
    with write_session(store) as session:
        report = session.get(ReportRow, 1)
        report.status, report.transferred = "DIALIHKAN", True
    edited = RULES.replace("opd: DPUPR\n", "opd: DINSOS\n", 1)
    result = remap(store, mapping_of(tmp_path / "v2", edited))
    assert result.transferred == 2
    assert assignments(store)[1] == ("DPUPR", "rule:infra", (), False)  # the last one, kept
    assert 7 not in assignments(store)  # first seen transferred: nobody here answers it
    mapping = mapping_of(tmp_path / "v3", RULES)
    with pytest.raises(MappingRequestError, match="transferred"), write_session(store) as session:
        assign_manual(session, mapping, 1, "DPUPR", reason="x", actor="sri", now=NOW)


def test_only_the_given_reports_and_missing_ids_are_counted(store, tmp_path):
    result = remap(store, mapping_of(tmp_path, RULES), [2, 4, 4, 404], actor="sync")
    assert (result.examined, result.not_found) == (2, 1)
    assert set(assignments(store)) == {2, 4}


def test_reports_added_in_the_same_transaction_are_assigned(engine, tmp_path):
    """The sync adds a page of reports and assigns them before committing."""
    mapping = mapping_of(tmp_path, RULES)
    with write_session(engine) as session:
        session.add_all([report_row(10, topic_id=104), report_row(11, kecamatan="Moga")])
        result = assign_reports(session, mapping, [10, 11], actor="sync", now=NOW)
    assert len(result.changes) == 2
    assert assignments(engine) == {
        10: ("DISHUB", "rule:pju", (), False),
        11: ("KEC_MOGA", "rule:moga", (), False),
    }


def test_many_reports_in_chunks(engine, tmp_path):
    """More ids than one IN (...) list, inserts then bulk updates."""
    add_topics(engine)
    add_reports(engine, [report_row(i, topic_id=101 if i % 2 else 104) for i in range(1, 1201)])
    remap(engine, mapping_of(tmp_path / "v1", RULES), list(range(1, 1201)), actor="sync")
    edited = RULES.replace("opd: DISHUB", "opd: DINSOS")
    result = remap(engine, mapping_of(tmp_path / "v2", edited), list(range(1, 1201)))
    assert len(result.changes) == 600 and result.unchanged == 600
    got = assignments(engine)
    assert len(got) == 1200
    assert {got[i][0] for i in range(2, 1201, 2)} == {"DINSOS"}
    assert {got[i][0] for i in range(1, 1201, 2)} == {"DPUPR"}
    assert history_count(engine) == 1800


def test_topic_descendants_use_the_stored_topic_tree(engine, tmp_path):
    """The mapping names a parent; the store's topic table says who its children are."""
    add_topics(engine, [(50, 0, "Root"), (51, 50, "Child"), (52, 51, "Grandchild")])
    add_reports(engine, [report_row(1, topic_id=52), report_row(2, topic_id=53)])
    mapping = mapping_of(
        tmp_path, "rules:\n  - {id: root, when: {topic: 50}, opd: DPUPR}\n", topics=None
    )
    remap(engine, mapping)
    assert assignments(engine) == {
        1: ("DPUPR", "rule:root", (), False),
        2: ("TRIASE", "default", (), False),
    }


# --- a broken mapping: refused before anything is written -------------------------------

BROKEN = [
    # bad indentation, as a new user writes it
    "rules:\n  - id: pju\n    when:\n      topic: 104\n     opd: DISHUB\n",
    # an unknown OPD code
    "rules:\n  - id: pju\n    when: {topic: 104}\n    opd: DISHUP\n",
    # a wrong type
    "rules:\n  - id: pju\n    when: {topic: 104}\n    opd: DISHUB\n    complex: ya\n",
]


@pytest.mark.parametrize("broken", BROKEN)
def test_a_sync_like_apply_with_a_broken_mapping_leaves_the_store_untouched(
    store, tmp_path, broken
):
    remap(store, mapping_of(tmp_path / "good", RULES), actor="sync")
    add_reports(store, [report_row(8, topic_id=104)])  # a new report waits for its assignment
    before = (assignments(store), history_count(store))
    directory = write_mapping(tmp_path / "bad", broken)
    with pytest.raises(MappingInvalid) as caught:
        # what the sync does per run: load (and check) first, then write per page
        mapping = load_mapping(directory, topics=SEED_TOPICS)
        with write_session(store) as session:
            assign_reports(session, mapping, [8], actor="sync", now=NOW)
    assert f"{directory / 'rules.yaml'}:" in caught.value.message
    assert caught.value.exit_code == 3
    assert (assignments(store), history_count(store)) == before
