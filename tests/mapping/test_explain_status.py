"""`explain` and `mapping_status` on a real store (SQLite file and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from lapor_bridge.mapping import MappingRequestError, assign_manual, assign_reports
from lapor_bridge.mapping.explain import explain
from lapor_bridge.mapping.status import mapping_status
from lapor_bridge.store import read_session, write_session
from lapor_bridge.store.tables import Assignment, AssignmentHistory, ReportRow

from .conftest import NOW, add_reports, add_topics, mapping_of, report_row

RULES = """\
rules:
  - id: pju
    when: {topic: 104}
    opd: DISHUB
  - id: infra
    when: {topic: 100, kecamatan: [Moga, Comal]}
    opd: DPUPR
  - id: banjir
    when: {keyword: [banjir, longsor]}
    opd: BPBD
    complex: true
    co_opd: [DPUPR, DINSOS]
  - id: air
    when: {topic: 900}
    opd: PERUMDA_AIR_MINUM
  - id: sms-kesehatan
    when: {topic: 200, channel: SMS}
    opd: DINKES
"""


@pytest.fixture
def mapping(tmp_path):
    return mapping_of(tmp_path, RULES)


@pytest.fixture
def store(engine, mapping):
    add_topics(engine)
    old = NOW - timedelta(days=200)
    add_reports(
        engine,
        [
            report_row(1, topic_id=101, kecamatan="Comal", status="DIPROSES"),
            report_row(2, topic_id=104, status="DISPOSISI"),
            report_row(3, topic_id=104, status="SELESAI"),
            report_row(4, topic_id=1200, content="Tanah LONGSOR di Belik", kecamatan="Belik"),
            report_row(5, topic_id=1200, title="Rahasia: banjir", privacy="RAHASIA"),
            report_row(6, topic_id=1200, kecamatan="Belik"),  # default
            report_row(7, topic_id=303),  # default; topic 303 under 300: no rule names it
            report_row(8, topic_id=104),  # transferred below, after its assignment
            report_row(9, topic_id=901, at=old),  # the air rule only matched long ago
        ],
    )
    with write_session(engine) as session:
        assign_reports(session, mapping, None, actor="sync", now=NOW)
    with write_session(engine) as session:  # then LAPOR! disposes 8 to another body
        moved = session.get(ReportRow, 8)
        moved.status, moved.transferred = "DIALIHKAN", True
    return engine


# --- explain -----------------------------------------------------------------------


def test_explain_names_the_matching_rule_and_why_earlier_rules_did_not(store, mapping):
    with read_session(store) as session:
        result = explain(session, mapping, 4)
    assert (result.rules_say, result.rules_mapped_by) == ("BPBD", "rule:banjir")
    assert result.matched is not None
    assert (result.matched.rule_id, result.matched.reason) == ("banjir", "keyword 'longsor'")
    assert result.matched.where.endswith("rules.yaml:8")
    assert [(v.rule_id, v.reason) for v in result.earlier] == [
        ("pju", "topic 1200, not under topic 104"),
        ("infra", "topic 1200, not under topic 100; kecamatan belik, not Moga, Comal"),
    ]
    assert result.topic == "1200 Topik Lainnya"
    assert (result.assigned_opd, result.assigned_mapped_by, result.assigned_by) == (
        "BPBD",
        "rule:banjir",
        "sync",
    )
    assert [(h.from_opd, h.to_opd, h.actor) for h in result.history] == [(None, "BPBD", "sync")]
    assert result.notes == ()


def test_explain_a_default_report_lists_every_rule(store, mapping):
    with read_session(store) as session:
        result = explain(session, mapping, 7)
    assert result.matched is None
    assert (result.rules_say, result.rules_mapped_by) == ("TRIASE", "default")
    assert [v.rule_id for v in result.earlier] == ["pju", "infra", "banjir", "air", "sms-kesehatan"]
    assert result.earlier[-1].reason == "topic 303, not under topic 200; channel WEB, not SMS"
    assert result.topic == "303 Beasiswa dan PIP < 300 Pendidikan dan Kebudayaan"


def test_explain_withholds_a_rahasia_title_and_shows_manual_notes(store, mapping):
    with write_session(store) as session:
        assign_manual(session, mapping, 5, "DINSOS", reason="pengungsian", actor="sri", now=NOW)
    with read_session(store) as session:
        result = explain(session, mapping, 5)
    assert result.title is None and result.privacy == "RAHASIA"
    assert "banjir" not in str(result.to_dict()["title"])
    assert result.notes == (
        "assigned by hand to DINSOS by sri: a manual assignment beats the rules and survives remaps",
    )
    assert [(h.from_opd, h.to_opd, h.actor, h.reason) for h in result.history][-1] == (
        "BPBD", "DINSOS", "sri", "pengungsian",
    )  # fmt: skip


def test_a_rahasia_report_routed_by_a_keyword_never_names_the_word(store, mapping):
    """Rule `banjir` matches report 5 on a word of its secret text: neither the
    stored reason nor the explanation says which word (nor which words it lacks)."""
    with read_session(store) as session:
        result = explain(session, mapping, 5)
        stored = session.get(Assignment, 5)
    assert (result.rules_mapped_by, result.matched.reason) == (
        "rule:banjir",
        "a keyword of the rule (in a RAHASIA text: not named)",
    )
    assert "keyword 'banjir'" not in str(result.to_dict())
    assert stored.reason.endswith("a keyword of the rule (in a RAHASIA text: not named)")
    assert "'banjir'" not in stored.reason and "longsor" not in stored.reason
    # a public report with the same word still says which one
    with read_session(store) as session:
        assert explain(session, mapping, 4).matched.reason == "keyword 'longsor'"
    # a reason stored before reasons withheld the words is shown without them
    old = "rule banjir (rules.yaml:8): keyword 'banjir'; none of the keywords banjir, longsor in title or content"
    with write_session(store) as session:
        session.get(Assignment, 5).reason = old
        session.exec(
            select(AssignmentHistory).where(AssignmentHistory.tracking_id == 5)
        ).one().reason = old
    with read_session(store) as session:
        shown = explain(session, mapping, 5).to_dict()
    assert "keyword 'banjir'" not in str(shown) and "banjir, longsor" not in str(shown)
    assert shown["assigned_reason"] == (
        "rule banjir (rules.yaml:8): a keyword of the rule (in a RAHASIA text: not named); "
        "none of the keywords of the rule (in a RAHASIA text: not named)"
    )


def test_explain_notes_a_stale_assignment_and_an_unknown_report(store, tmp_path):
    edited = mapping_of(tmp_path / "v2", RULES.replace("opd: DISHUB", "opd: DPUPR"))
    with read_session(store) as session:
        result = explain(session, edited, 2)
        assert "differs from what the rules say now" in result.notes[0]
        with pytest.raises(MappingRequestError, match="no report 404"):
            explain(session, edited, 404)


# --- status ------------------------------------------------------------------------------


def test_status_counts_per_opd_by_state(store, mapping):
    with read_session(store) as session:
        data = mapping_status(session, mapping, opd=None, now=NOW)
    per_opd = {e["opd"]: (e["total"], e["by_status"], e["transferred"]) for e in data["per_opd"]}
    assert per_opd == {
        "DISHUB": (3, {"DISPOSISI": 1, "SELESAI": 1}, 1),
        "BPBD": (2, {"DISPOSISI": 2}, 0),
        "TRIASE": (2, {"DISPOSISI": 2}, 0),
        "DPUPR": (1, {"DIPROSES": 1}, 0),
        "PERUMDA_AIR_MINUM": (1, {"DISPOSISI": 1}, 0),
    }
    unmapped = data["unmapped"]
    assert (unmapped["default_unit"], unmapped["count"], sorted(unmapped["examples"])) == (
        "TRIASE",
        2,
        [6, 7],
    )
    assert data["not_assigned"] == 0


def test_status_topics_without_rule_and_idle_rules(store, mapping):
    add_reports(store, [report_row(10, topic_id=5555)])  # a topic the tree does not know
    with read_session(store) as session:
        data = mapping_status(session, mapping, opd=None, now=NOW)
    # 101/104 are named (104 directly, 101 through 100); 1200, 303 and 5555 are not
    assert data["topics_without_rule"] == [
        {"topic": 1200, "name": "Topik Lainnya", "reports": 3},
        {"topic": 303, "name": "Beasiswa dan PIP", "reports": 1},
        {"topic": 5555, "name": None, "reports": 1},
    ]
    assert data["not_assigned"] == 1
    # `air` only assigned a report last touched 200 days ago; `sms-kesehatan` nothing at all
    assert [r["rule"] for r in data["idle_rules"]] == ["air", "sms-kesehatan"]
    with read_session(store) as session:
        later = mapping_status(session, mapping, opd=None, now=NOW + timedelta(days=100))
    assert [r["rule"] for r in later["idle_rules"]] == [
        "pju",
        "infra",
        "banjir",
        "air",
        "sms-kesehatan",
    ]


def test_status_for_one_opd_with_co_assignments(store, mapping):
    with read_session(store) as session:
        data = mapping_status(session, mapping, opd="DPUPR", now=NOW)
        dinsos = mapping_status(session, mapping, opd="DINSOS", now=NOW)
        with pytest.raises(MappingRequestError, match="did you mean DPUPR"):
            mapping_status(session, mapping, opd="DPUPRR", now=NOW)
    assert [e["opd"] for e in data["per_opd"]] == ["DPUPR"]
    assert data["co_assigned"] == {"total": 2, "by_status": {"DISPOSISI": 2}, "transferred": 0}
    assert dinsos["per_opd"] == []
    assert dinsos["co_assigned"]["total"] == 2
    assert [r["rule"] for r in data["idle_rules"]] == []  # infra and banjir (co_opd) both matched
