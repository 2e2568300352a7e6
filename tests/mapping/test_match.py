"""Matching: each dimension, AND/OR, topic descendants, keywords as whole
words, rule order, the default unit. Pure functions, no store."""

from __future__ import annotations

import pytest

from lapor_bridge.mapping.match import check_rule, route, rule_matches
from lapor_bridge.mapping.text import contains_phrase, fold, place_name, searchable

from .conftest import facts, mapping_of


@pytest.fixture
def one_rule(tmp_path):
    """A mapping with one rule written as `when: {...}` -> DPUPR."""

    def make(when: str):
        return mapping_of(tmp_path, f"rules:\n  - id: r\n    when: {when}\n    opd: DPUPR\n")

    return make


def routed(mapping, **kw) -> str:
    return route(mapping, facts(**kw)).opd


# --- topic --------------------------------------------------------------------


def test_topic_matches_itself_and_its_descendants_only(one_rule):
    mapping = one_rule("{topic: 100}")
    assert routed(mapping, topic=100) == "DPUPR"
    assert routed(mapping, topic=101) == "DPUPR"  # a child of 100
    assert routed(mapping, topic=105) == "DPUPR"
    assert routed(mapping, topic=200) == "TRIASE"
    assert routed(mapping, topic=None) == "TRIASE"


def test_a_child_topic_does_not_match_its_parent_or_siblings(one_rule):
    mapping = one_rule("{topic: 104}")
    assert routed(mapping, topic=104) == "DPUPR"
    assert routed(mapping, topic=100) == "TRIASE"  # the parent is broader
    assert routed(mapping, topic=101) == "TRIASE"  # a sibling


def test_deeper_descendants_match_through_every_level(tmp_path):
    tree = {1: 0, 10: 1, 100: 10, 1000: 100}
    mapping = mapping_of(
        tmp_path, "rules:\n  - {id: r, when: {topic: 1}, opd: DPUPR}\n", topics=tree
    )
    assert route(mapping, facts(topic=1000, tree=tree)).opd == "DPUPR"
    assert route(mapping, facts(topic=7, tree=tree)).opd == "TRIASE"


def test_a_cycle_in_the_topic_tree_does_not_hang(tmp_path):
    tree = {1: 2, 2: 1, 3: 0}
    mapping = mapping_of(
        tmp_path, "rules:\n  - {id: r, when: {topic: 3}, opd: DPUPR}\n", topics=tree
    )
    assert route(mapping, facts(topic=1, tree=tree)).opd == "TRIASE"


# --- places -------------------------------------------------------------------


def test_kecamatan_case_accents_and_prefix_do_not_matter(one_rule):
    mapping = one_rule("{kecamatan: Moga}")
    for written in ("Moga", "MOGA", "moga", "Kecamatan Moga", "Kec. Moga", " Mogá "):
        assert routed(mapping, kecamatan=written) == "DPUPR", written
    assert routed(mapping, kecamatan="Mogaa") == "TRIASE"
    assert routed(mapping, kecamatan=None) == "TRIASE"


def test_desa_with_two_words_and_prefix(one_rule):
    mapping = one_rule("{desa: [Kebon Gede, Sima]}")
    assert routed(mapping, desa="Desa Kebon Gede") == "DPUPR"
    assert routed(mapping, desa="kebon  gede") == "DPUPR"
    assert routed(mapping, desa="SIMA") == "DPUPR"
    assert routed(mapping, desa="Kebon") == "TRIASE"


# --- channel and classification ---------------------------------------------


def test_channel_values(one_rule):
    mapping = one_rule("{channel: [sms, twitter]}")
    assert routed(mapping, channel="SMS") == "DPUPR"
    assert routed(mapping, channel="TWITTER") == "DPUPR"
    assert routed(mapping, channel="WEB") == "TRIASE"


def test_masbupsiaga_channel_is_the_programme_on_any_channel(one_rule):
    mapping = one_rule("{channel: MASBUPSIAGA}")
    assert routed(mapping, channel="SMS", masbupsiaga=True) == "DPUPR"
    assert routed(mapping, channel="TWITTER", masbupsiaga=True) == "DPUPR"
    assert routed(mapping, channel="SMS", masbupsiaga=False) == "TRIASE"


def test_classification(one_rule):
    mapping = one_rule("{classification: [ASPIRASI, permintaan_informasi]}")
    assert routed(mapping, classification="ASPIRASI") == "DPUPR"
    assert routed(mapping, classification="PERMINTAAN_INFORMASI") == "DPUPR"
    assert routed(mapping, classification="PENGADUAN") == "TRIASE"


# --- keywords -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "text", "expected"),
    [
        ("jalan", "Jalan rusak di desa", True),
        ("jalan", "JALAN RUSAK", True),
        ("jalan", "jalan-jalan ke pasar", True),
        ("jalan", "lubang di jalan.", True),
        ("jalan", "(jalan)", True),
        ("jalan", "perjalanan dinas camat", False),
        ("jalan", "pejalan kaki terganggu", False),
        ("jalan", "berjalan kaki", False),
        ("jalan", "jalanan licin", False),
        ("air", "air PDAM mati", True),
        ("air", "Airlangga", False),
        ("air", "pengairan sawah", False),
        ("air", "saluran irigasi kering", False),
        ("banjir", "kebanjiran tiap tahun", False),
        ("banjir", "BANJIR!!!", True),
        ("pju", "lampu PJU mati", True),
        ("ktp", "KTP-el belum jadi", True),
        ("sampah", "persampahan", False),
        ("desa", "pedesaan", False),
        ("kesehatan", "Késéhatan ibu", True),  # accents in the text
        ("késéhatan", "kesehatan ibu", True),  # accents in the keyword
        ("jalan rusak", "Jalan rusak parah", True),
        ("jalan rusak", "jalan, rusak parah", True),  # punctuation between the words
        ("jalan rusak", "jalan\nrusak", True),
        ("jalan rusak", "jalan tidak rusak", False),
        ("jalan rusak", "perjalanan rusak", False),
        ("jalan rusak", "jalan rusaknya", False),
        ("banjir rob", "banjir robek", False),
    ],
)
def test_keyword_is_case_and_accent_insensitive_and_whole_words(one_rule, keyword, text, expected):
    mapping = one_rule(f'{{keyword: "{keyword}"}}')
    assert (routed(mapping, content=text) == "DPUPR") is expected


def test_keyword_in_title_or_content_but_a_phrase_never_spans_both(one_rule):
    mapping = one_rule('{keyword: ["jalan rusak"]}')
    assert routed(mapping, title="Jalan rusak", content="mohon") == "DPUPR"
    assert routed(mapping, title="Mohon", content="jalan rusak") == "DPUPR"
    assert routed(mapping, title="Jalan", content="rusak parah") == "TRIASE"


def test_sms_keyword_is_stripped_before_matching(one_rule):
    mapping = one_rule("{keyword: masbupsiaga}")
    # the SMS programme keyword is not the citizen's words
    assert routed(mapping, channel="SMS", content="masbupsiaga jalan rusak") == "TRIASE"
    # on other channels the word is the citizen's own
    assert routed(mapping, channel="WEB", content="masbupsiaga jalan rusak") == "DPUPR"


def test_text_helpers():
    assert fold("ÉMPAT Désa") == "empat desa"
    assert place_name("Kec. Moga", kind="kecamatan") == "moga"
    assert place_name("Kelurahan Pelutan", kind="desa") == "pelutan"
    assert place_name("Desa", kind="desa") == "desa"  # a lone prefix word is a name
    prepared = searchable("Jalan", "rusak parah")
    assert contains_phrase(prepared, "rusak parah")
    assert not contains_phrase(prepared, "jalan rusak")


# --- AND / OR, order, default -------------------------------------------------


def test_dimensions_are_anded_and_values_ored(one_rule):
    mapping = one_rule("{topic: [101, 102], kecamatan: [Moga, Comal]}")
    assert routed(mapping, topic=101, kecamatan="Moga") == "DPUPR"
    assert routed(mapping, topic=102, kecamatan="Comal") == "DPUPR"
    assert routed(mapping, topic=101, kecamatan="Belik") == "TRIASE"
    assert routed(mapping, topic=103, kecamatan="Moga") == "TRIASE"
    assert routed(mapping, topic=None, kecamatan="Moga") == "TRIASE"


def test_first_matching_rule_wins(tmp_path):
    mapping = mapping_of(
        tmp_path,
        """\
        rules:
          - {id: pju, when: {topic: 104}, opd: DISHUB}
          - {id: infra, when: {topic: 100}, opd: DPUPR}
          - {id: moga, when: {kecamatan: Moga}, opd: KEC_MOGA}
        """,
    )
    assert route(mapping, facts(topic=104, kecamatan="Moga")).mapped_by == "rule:pju"
    assert route(mapping, facts(topic=101, kecamatan="Moga")).mapped_by == "rule:infra"
    assert route(mapping, facts(topic=1200, kecamatan="Moga")).mapped_by == "rule:moga"


def test_no_match_goes_to_default_marked_default(one_rule):
    answer = route(one_rule("{topic: 100}"), facts(topic=200))
    assert (answer.opd, answer.mapped_by, answer.complex, answer.co_opd, answer.rule) == (
        "TRIASE",
        "default",
        False,
        (),
        None,
    )


def test_complex_and_co_opd_come_from_the_rule_without_repeating_opd(tmp_path):
    mapping = mapping_of(
        tmp_path,
        """\
        rules:
          - id: banjir
            when: {keyword: banjir}
            opd: BPBD
            complex: true
            co_opd: [DPUPR, DINSOS, DPUPR, BPBD]
        """,
    )
    answer = route(mapping, facts(content="banjir lagi"))
    assert (answer.opd, answer.complex, answer.co_opd) == ("BPBD", True, ("DPUPR", "DINSOS"))
    assert [w.message for w in mapping.warnings] == [
        "rule `banjir` lists its own opd `BPBD` in co_opd"
    ]


def test_check_rule_agrees_with_rule_matches_and_says_why(tmp_path):
    mapping = mapping_of(
        tmp_path,
        """\
        rules:
          - {id: a, when: {topic: 100, kecamatan: Moga, keyword: [banjir, "jalan rusak"]}, opd: DPUPR}
        """,
    )
    rule = mapping.rules[0]
    cases = [
        facts(topic=101, kecamatan="moga", content="Jalan  rusak!"),
        facts(topic=101, kecamatan="Comal", content="jalan rusak"),
        facts(topic=200, kecamatan="Moga", content="banjir"),
        facts(topic=101, kecamatan="Moga", content="perjalanan"),
    ]
    for case in cases:
        assert check_rule(rule, case).matched == rule_matches(rule, case)
    assert (
        check_rule(rule, cases[0]).summary()
        == "topic 101 (under topic 100); kecamatan Moga; keyword 'jalan rusak'"
    )
    assert check_rule(rule, cases[1]).summary() == "kecamatan comal, not Moga"
    assert check_rule(rule, cases[2]).summary() == "topic 200, not under topic 100"
    assert (
        check_rule(rule, cases[3]).summary()
        == "none of the keywords banjir, jalan rusak in title or content"
    )


def test_router_gives_the_same_answers_and_reasons_as_route():
    """The bulk path (per-topic candidate rules, cached reasons) must agree with
    the plain first-match loop on the shipped mapping."""
    from pathlib import Path

    from lapor_bridge.mapping import load_mapping
    from lapor_bridge.mapping.match import Router, why

    from .conftest import SEED_TOPICS

    mapping = load_mapping(Path(__file__).resolve().parents[2] / "mappings", topics=SEED_TOPICS)
    router = Router(mapping, SEED_TOPICS)
    texts = [
        "Banjir rob",
        "tanah longsor",
        "pungutan liar",
        "jalan rusak",
        "informasi dana desa",
        "",
    ]
    seen = set()
    for topic in (*SEED_TOPICS, None, 4242):
        for text in texts:
            for kecamatan in ("Ulujami", "Moga", None):
                for channel, programme in (("SMS", True), ("WEB", False)):
                    for classification in ("PENGADUAN", "PERMINTAAN_INFORMASI"):
                        case = facts(
                            topic=topic, content=text, kecamatan=kecamatan, channel=channel,
                            masbupsiaga=programme, classification=classification,
                        )  # fmt: skip
                        expected = route(mapping, case)
                        got = router.route(case)
                        assert got == expected, case
                        assert router.why(got, case) == why(expected, case), case
                        seen.add(got.mapped_by)
    assert len(seen) > 25  # most rules were reached
