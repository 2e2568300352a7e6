"""Loading and checking the mapping files: every error with its file, line
and fix; warnings that do not refuse; the shipped mapping is clean."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from lapor_bridge.errors import MappingInvalid
from lapor_bridge.mapping import MappingFilesInvalid, load_mapping
from lapor_bridge.mapping.checks import covers
from lapor_bridge.mapping.loader import read_rules
from lapor_bridge.mapping.match import rule_matches

from .conftest import SEED_TOPICS, UNITS, facts, mapping_of, write_mapping

REPO = Path(__file__).resolve().parents[2]

GOOD_RULES = """\
rules:
  - id: infra
    when: {topic: 100}
    opd: DPUPR
"""


def refused(directory: Path, rules: str = GOOD_RULES, units: str = UNITS, topics=SEED_TOPICS):
    write_mapping(directory, rules, units)
    with pytest.raises(MappingFilesInvalid) as caught:
        load_mapping(directory, topics=topics)
    return caught.value


def only_error(directory: Path, rules: str = GOOD_RULES, units: str = UNITS, topics=SEED_TOPICS):
    exc = refused(directory, rules, units, topics)
    assert len(exc.errors) == 1, exc.message
    return exc.errors[0]


# --- the shipped mapping ----------------------------------------------------------


def test_shipped_mapping_is_clean_against_the_seed_topic_tree():
    mapping = load_mapping(REPO / "mappings", topics=SEED_TOPICS)
    assert mapping.warnings == ()
    assert mapping.default == "KOORDINATOR"
    kecamatan_offices = [u for u in mapping.units.values() if u.kind == "kecamatan"]
    assert len(kecamatan_offices) == 14
    for code in ("DPUPR", "DINKES", "RSUD", "DISDUKCAPIL", "DINSOS", "DLH", "DISHUB",
                 "SATPOLPP", "PERUMDA_AIR_MINUM", "BPBD", "DISKOMINFO", "KEC_MOGA", "KEC_ULUJAMI"):  # fmt: skip
        assert code in mapping.units
    assert all(unit.liaison for unit in mapping.units.values())


def test_shipped_rules_route_the_seed_topics_as_documented():
    mapping = load_mapping(REPO / "mappings", topics=SEED_TOPICS)
    from lapor_bridge.mapping.match import route

    expected = {101: "DPUPR", 102: "DPUPR", 103: "DPUPR", 104: "DISHUB", 105: "DPUPR",
                201: "DINKES", 202: "RSUD", 401: "DISDUKCAPIL", 402: "DISDUKCAPIL",
                403: "DISDUKCAPIL", 501: "DLH", 601: "DINSOS", 602: "DINSOS",
                801: "SATPOLPP", 901: "PERUMDA_AIR_MINUM", 1001: "BPBD", 1002: "BPBD"}  # fmt: skip
    for topic, opd in expected.items():
        assert route(mapping, facts(topic=topic)).opd == opd, topic
    assert route(mapping, facts(topic=1001)).complex
    flood = route(mapping, facts(topic=1200, content="Banjir setinggi lutut"))
    assert (flood.opd, flood.complex, flood.co_opd) == ("BPBD", True, ("DPUPR", "DINSOS"))
    assert route(mapping, facts(topic=1200, kecamatan="Belik")).opd == "KEC_BELIK"
    assert route(mapping, facts(topic=None)).mapped_by == "default"


def test_shipped_mapping_without_topic_tree_notes_the_skipped_check():
    mapping = load_mapping(REPO / "mappings", topics=None)
    assert mapping.notes and "not checked" in mapping.notes[0]


# --- YAML syntax: as a new user breaks it ---------------------------------------


def test_bad_indentation_names_file_line_and_fix(tmp_path):
    rules = "rules:\n  - id: a\n    when:\n      topic: 101\n     opd: DPUPR\n"
    issue = only_error(tmp_path, rules)
    assert str(issue).startswith(f"{tmp_path / 'rules.yaml'}:5: YAML syntax error")
    assert "indentation" in issue.fix


def test_key_dedented_out_of_its_item(tmp_path):
    rules = "rules:\n  - id: a\n    when: {topic: 101}\n  opd: DPUPR\n"
    issue = only_error(tmp_path, rules)
    assert (issue.file, issue.line) == (str(tmp_path / "rules.yaml"), 4)


def test_conditions_not_indented_under_when(tmp_path):
    rules = "rules:\n  - id: a\n    when:\n    topic: 101\n    opd: DPUPR\n"
    exc = refused(tmp_path, rules)
    got = {(e.line, e.message) for e in exc.errors}
    assert got == {(3, "`when` is empty"), (4, "`topic` is not a key of a rule")}
    assert "indent `topic:` two spaces more than `when:`" in exc.message


def test_tab_indentation(tmp_path):
    issue = only_error(tmp_path, "rules:\n  - id: a\n    when:\n\ttopic: 101\n    opd: DPUPR\n")
    assert issue.line == 4
    assert issue.fix == "indent with spaces, not tabs"


def test_duplicate_key_in_one_item(tmp_path):
    issue = only_error(
        tmp_path, "rules:\n  - id: a\n    when: {topic: 101}\n    opd: DPUPR\n    opd: DISHUB\n"
    )
    assert issue.line == 5
    assert "duplicate key" in issue.message


def test_unclosed_bracket(tmp_path):
    issue = only_error(
        tmp_path, "rules:\n  - id: a\n    when: {topic: [101, 102}\n    opd: DPUPR\n"
    )
    assert issue.line == 3


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "the file is empty"),
        ("- id: a\n", 1, "the file must be keys and values at the top level"),
        ("rule:\n  - id: a\n", 1, "unknown key `rule`"),
        ("rules: []\n", 1, "`rules` has no items"),
    ],
)
def test_top_level_shape(tmp_path, text, line, message):
    exc = refused(tmp_path, text)
    assert (exc.errors[0].line, exc.errors[0].message) == (line, message)


def test_missing_file(tmp_path):
    write_mapping(tmp_path, GOOD_RULES)
    (tmp_path / "units.yaml").unlink()
    with pytest.raises(MappingInvalid) as caught:
        load_mapping(tmp_path, topics=SEED_TOPICS)
    assert f"{tmp_path / 'units.yaml'}: the file is missing. create it" in caught.value.message
    assert caught.value.exit_code == 3


# --- schema errors in rules, each with its line ------------------------------------


@pytest.mark.parametrize(
    ("rules", "line", "message", "fix"),
    [
        (
            "rules:\n  - id: a\n    when: {topic: 101}\n    opd: DPUPR\n    compex: true\n",
            5,
            "unknown key `compex`",
            "did you mean `complex`?",
        ),
        (
            "rules:\n  - id: a\n    when:\n      topic: 101\n      keywords: [banjir]\n    opd: DPUPR\n",
            5,
            "unknown key `keywords`",
            "did you mean `keyword`?",
        ),
        (
            "rules:\n  - id: a\n    when: {topic: 101}\n",
            2,
            "`opd` is missing",
            "add it, e.g. `opd: DPUPR`",
        ),
        (
            "rules:\n  - id: a\n    opd: DPUPR\n",
            2,
            "the rule has no `when:`",
            "add `when:` with the conditions indented under it, e.g. `when: {topic: [101]}`",
        ),
        (
            "rules:\n  - id: a\n    when:\n      topic: [101,\n        jalan]\n    opd: DPUPR\n",
            5,
            "an item of `topic` must be a whole number, not 'jalan'",
            "write it without quotes, like `topic: [101, 102]`",
        ),
        (
            "rules:\n  - id: a\n    when: {topic: 101}\n    opd: DPUPR\n    complex: yes\n",
            5,
            "`complex` must be true or false, not 'yes'",
            "write `complex: true` or `complex: false`",
        ),
        (
            "rules:\n  - id: a\n    when: {topic: 101}\n    opd: 12\n",
            4,
            "`opd` must be text, not 12",
            'put it in quotes, like `opd: "12"`',
        ),
        (
            "rules:\n  - id: a\n    when: {keyword: []}\n    opd: DPUPR\n",
            3,
            "`keyword` is an empty list",
            'give at least one value, e.g. `keyword: [banjir, "tanah longsor"]`, or remove the key',
        ),
        (
            "rules:\n  - id: a\n    when:\n      channel: [SMS, fax]\n    opd: DPUPR\n",
            4,
            "unknown channel `fax`",
            "use one of WEB, SMS, TWITTER, APP, INTEGRASI, MASBUPSIAGA",
        ),
        (
            "rules:\n  - id: a\n    when:\n      classification: aspirasy\n    opd: DPUPR\n",
            4,
            "unknown classification `aspirasy`",
            "did you mean `ASPIRASI`?",
        ),
        (
            "rules:\n  - id: jalan rusak\n    when: {topic: 101}\n    opd: DPUPR\n",
            2,
            "rule id `jalan rusak` has spaces or other signs",
            "use letters, digits, - _ . only, e.g. `jalan-rusak`",
        ),
        (
            "rules:\n  - id: a\n    when: {}\n    opd: DPUPR\n",
            3,
            "`when` has no condition",
            "add at least one of topic, kecamatan, desa, keyword, channel, classification; what no rule matches goes to the `default` unit",
        ),
        (
            "rules:\n  - id: a\n    when: {keyword: ['!!!']}\n    opd: DPUPR\n",
            3,
            "keyword `!!!` has no letters or digits",
            'write a word, e.g. `keyword: [banjir, "tanah longsor"]`',
        ),
        (
            "rules:\n  - id: a\n    when: {topic: 101}\n    opd: DPUPR\n  - id: b\n    when: {topic: 102}\n",
            5,
            "`opd` is missing",
            "add it, e.g. `opd: DPUPR`",
        ),
    ],
)
def test_rule_schema_error_line_message_and_fix(tmp_path, rules, line, message, fix):
    issue = only_error(tmp_path, rules)
    assert (issue.file, issue.line, issue.message, issue.fix) == (
        str(tmp_path / "rules.yaml"), line, message, fix,
    )  # fmt: skip
    assert str(issue) == f"{tmp_path / 'rules.yaml'}:{line}: {message}. {fix}"


def test_one_bad_rule_does_not_hide_errors_in_others(tmp_path):
    rules = (
        "rules:\n"
        "  - id: a\n    when: {topic: 101}\n    opd: DPUPRR\n"  # 2-4
        "  - id: b\n    when: {topic: x}\n    opd: DPUPR\n"  # 5-7
        "  - id: c\n    when: {topic: 102}\n    opd: DISHUB\n    co_opd: [BPBD, BPDB]\n"  # 8-11
    )
    exc = refused(tmp_path, rules)
    assert [(e.line, e.message) for e in exc.errors] == [
        (4, "rule `a`: opd `DPUPRR` is not a unit in units.yaml"),
        (6, "an item of `topic` must be a whole number, not 'x'"),
        (11, "rule `c`: co_opd `BPDB` is not a unit in units.yaml"),
    ]
    assert exc.errors[0].fix == "did you mean `DPUPR`?"
    assert exc.errors[2].fix == "did you mean `BPBD`?"
    # the message lists every error as file:line: message. fix
    for error in exc.errors:
        assert f"  {error}" in exc.message.splitlines()


def test_unknown_code_in_lower_case_suggests_the_code(tmp_path):
    issue = only_error(tmp_path, "rules:\n  - {id: a, when: {topic: 101}, opd: dpupr}\n")
    assert (issue.line, issue.fix) == (2, "did you mean `DPUPR`?")


def test_co_opd_given_as_a_single_code_points_at_its_line(tmp_path):
    rules = "rules:\n  - id: a\n    when: {topic: 101}\n    opd: DPUPR\n    co_opd: NOPE\n"
    issue = only_error(tmp_path, rules)
    assert (issue.line, issue.message) == (5, "rule `a`: co_opd `NOPE` is not a unit in units.yaml")


def test_duplicate_rule_id(tmp_path):
    rules = "rules:\n  - {id: a, when: {topic: 101}, opd: DPUPR}\n  - {id: a, when: {topic: 102}, opd: DPUPR}\n"
    issue = only_error(tmp_path, rules)
    assert (issue.line, issue.message) == (3, "rule id `a` is used twice (first at line 2)")


# --- shadowing -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "later"),
    [
        ("{topic: 100}", "{topic: 101}"),  # a parent topic catches its children
        ("{topic: [101, 102]}", "{topic: 102}"),
        ("{topic: 100}", "{topic: [101, 104], kecamatan: Moga}"),  # later is narrower
        ("{keyword: banjir}", '{keyword: "banjir rob"}'),  # a word inside the phrase
        ("{keyword: [rob, longsor]}", '{keyword: ["banjir rob", "tanah longsor"]}'),
        ("{kecamatan: [Moga, Comal]}", "{kecamatan: moga}"),
        ("{channel: [SMS, WEB]}", "{channel: SMS, classification: ASPIRASI}"),
        ("{topic: 101, kecamatan: Moga}", "{topic: 101, kecamatan: Moga}"),  # identical
    ],
)
def test_shadowed_rule_is_an_error_at_its_line(tmp_path, first, later):
    rules = f"rules:\n  - id: first\n    when: {first}\n    opd: DPUPR\n  - id: later\n    when: {later}\n    opd: DISHUB\n"
    issue = only_error(tmp_path, rules)
    assert issue.line == 5
    assert (
        issue.message
        == "rule `later` can never match: rule `first` (line 2) comes first and matches every report it matches"
    )
    assert issue.fix == "move `later` above `first`, narrow `first`, or delete `later`"


@pytest.mark.parametrize(
    ("first", "later"),
    [
        ("{topic: 101}", "{topic: 100}"),  # narrow first, broad later: fine
        ("{topic: 100, kecamatan: Moga}", "{topic: 101}"),  # first needs more
        ("{keyword: 'banjir rob'}", "{keyword: banjir}"),
        ("{keyword: jalan}", "{keyword: perjalanan}"),  # not a whole word
        ("{keyword: [banjir]}", "{keyword: [banjir, longsor]}"),  # one value escapes
        ("{channel: SMS}", "{channel: MASBUPSIAGA}"),  # the programme also tweets
        ("{kecamatan: Moga}", "{desa: Moga}"),
    ],
)
def test_rules_that_can_still_match_are_not_shadowed(tmp_path, first, later):
    rules = f"rules:\n  - id: first\n    when: {first}\n    opd: DPUPR\n  - id: later\n    when: {later}\n    opd: DISHUB\n"
    mapping = mapping_of(tmp_path, rules)
    assert [r.id for r in mapping.rules] == ["first", "later"]


def test_shadowing_is_sound_on_random_rules(tmp_path):
    """Whenever `covers` says an earlier rule catches a later one, no report
    matches the later rule without matching the earlier one."""
    rng = random.Random(1708)
    topics = [100, 101, 104, 200, 201, 1001]
    words = ["banjir", "rob", "banjir rob", "jalan", "jalan rusak", "rusak"]
    kec = ["Moga", "Comal"]
    channels = ["SMS", "WEB", "MASBUPSIAGA"]

    def random_when() -> str:
        parts = []
        if rng.random() < 0.5:
            parts.append(f"topic: {rng.sample(topics, rng.randint(1, 2))}")
        if rng.random() < 0.4:
            parts.append(f"keyword: {rng.sample(words, rng.randint(1, 2))}")
        if rng.random() < 0.3:
            parts.append(f"kecamatan: {rng.sample(kec, rng.randint(1, 2))}")
        if rng.random() < 0.3 or not parts:
            parts.append(f"channel: {rng.sample(channels, rng.randint(1, 2))}")
        return "{" + ", ".join(parts) + "}"

    (tmp_path / "rules.yaml").write_text(
        "rules:\n"
        + "".join(f"  - {{id: r{i}, when: {random_when()}, opd: X}}\n" for i in range(150))
    )
    rules, problems = read_rules(tmp_path / "rules.yaml")
    assert problems == [] and len(rules) == 150
    texts = [
        "banjir rob di pantai",
        "jalan rusak",
        "banjir",
        "rob",
        "perjalanan",
        "rusak jalan",
        "",
    ]
    cases = [
        facts(topic=t, content=x, kecamatan=k, channel=c, masbupsiaga=m)
        for t in (*topics, 102, None)
        for x in texts
        for k in (*kec, None)
        for c, m in (("SMS", False), ("SMS", True), ("WEB", False), ("TWITTER", True))
    ]
    matches = {
        rule.id: {i for i, case in enumerate(cases) if rule_matches(rule, case)} for rule in rules
    }
    covered_pairs = 0
    for first in rules:
        for later in rules:
            if first is not later and covers(first, later, SEED_TOPICS):
                covered_pairs += 1
                assert matches[later.id] <= matches[first.id], (first, later)
    assert covered_pairs > 50  # the property was exercised


# --- units.yaml ----------------------------------------------------------------------


def units_with(extra: str, default: str = "TRIASE") -> str:
    return (
        f"default: {default}\nunits:\n"
        "  - code: TRIASE\n    name: Koordinator\n    liaison: [{name: A, phone: '0812-0000-0001'}]\n"  # 3-5
        "  - code: DPUPR\n    name: Dinas PU\n    liaison: [{name: B, phone: '0812-0000-0002'}]\n"  # 6-8
        "  - code: DISHUB\n    name: Dishub\n    liaison: [{name: C, phone: '0812-0000-0003'}]\n"  # 9-11
        + extra
    )


@pytest.mark.parametrize(
    ("extra", "line", "message"),
    [
        (
            "  - code: DPUPR\n    name: Lagi\n    liaison: [{name: D, phone: '0812-0000-0009'}]\n",
            12,
            None,
        ),
        (
            "  - code: dinsos\n    name: Dinsos\n",
            12,
            "unit code `dinsos` is not capital letters, digits and _",
        ),
        ("  - code: DINSOS\n    nama: Dinsos\n", 13, "unknown key `nama`"),
        (
            "  - code: DINSOS\n    name: Dinsos\n    kind: dinas\n",
            14,
            "`kind` must be one of 'opd', 'kecamatan' or 'koordinator', not 'dinas'",
        ),
        (
            "  - code: KEC_MOGA\n    name: Kec Moga\n    kind: kecamatan\n",
            12,
            "kecamatan office `KEC_MOGA` does not say which kecamatan it serves",
        ),
        (
            "  - code: DINSOS\n    name: Dinsos\n    liaison:\n      - name: X\n",
            15,
            "liaison `X` has neither phone nor email",
        ),
        (
            "  - code: DINSOS\n    name: Dinsos\n    liaison:\n      - name: X\n        email: x-at-y\n",
            16,
            "email `x-at-y` is not an e-mail address",
        ),
        (
            "  - code: DINSOS\n    name: Dinsos\n    liaison:\n      - name: X\n        phone: 812\n",
            16,
            "an item of `liaison`: phone must be text",
        ),
    ],
)
def test_unit_errors_with_their_line(tmp_path, extra, line, message):
    issue = only_error(tmp_path, units=units_with(extra))
    assert issue.file == str(tmp_path / "units.yaml")
    assert issue.line == line
    if message is None:  # the duplicate code
        assert issue.message == "unit code `DPUPR` is used twice (first at line 6)"
    elif message.endswith("must be text"):
        assert issue.message.startswith("`phone` must be text")
    else:
        assert issue.message == message


def test_default_unit_missing_or_unknown(tmp_path):
    issue = only_error(tmp_path, units=units_with("", default="TRIAGE"))
    assert (issue.line, issue.message, issue.fix) == (
        1,
        "the default unit `TRIAGE` is not defined in this file",
        "did you mean `TRIASE`?",
    )
    issue = only_error(tmp_path / "b", units=units_with("").replace("default: TRIASE\n", ""))
    assert (issue.line, issue.message) == (1, "`default` is missing")


# --- warnings: reported, not refused ---------------------------------------------------


def test_warnings_do_not_refuse_and_carry_lines(tmp_path):
    units = units_with(
        "  - code: KEC_MOGA\n    name: Kecamatan Moga\n    kind: kecamatan\n    kecamatan: Moga\n"  # 12-15
    )
    rules = (
        "rules:\n"
        "  - id: a\n    when: {topic: [101, 9999]}\n    opd: DPUPR\n"  # 2-4
        "  - id: b\n    when:\n      kecamatan:\n        - Moga\n        - Mogaa\n    opd: DISHUB\n"  # 5-10
    )
    mapping = mapping_of(tmp_path, rules, units=units)
    got = [(w.file.rsplit("/", 1)[-1], w.line, w.message, w.fix) for w in mapping.warnings]
    assert got == [
        ("rules.yaml", 3, "rule `a`: topic 9999 is not in the synced LAPOR! topic tree",
         "check the id (it may have been removed upstream); this value never matches"),
        ("rules.yaml", 9, "no kecamatan office serves kecamatan `Mogaa`, so reports may never name it",
         "did you mean `Moga`?"),
        ("units.yaml", 12, "unit `KEC_MOGA` has no liaison contact",
         "add `liaison:` with a name and phone or email"),
    ]  # fmt: skip


def test_missing_topic_is_not_checked_without_a_tree(tmp_path):
    mapping = mapping_of(
        tmp_path, "rules:\n  - {id: a, when: {topic: 9999}, opd: DPUPR}\n", topics=None
    )
    assert mapping.warnings == ()


def test_every_rule_knows_its_file_and_lines(tmp_path):
    rules = "rules:\n  # a comment\n  - id: a\n    when:\n      topic:\n        - 101\n        - 102\n    opd: DPUPR\n"
    rule = mapping_of(tmp_path, rules).rules[0]
    assert (rule.file, rule.line) == (str(tmp_path / "rules.yaml"), 3)
    assert rule.lines["opd"] == 8
    assert rule.sources["topic"] == ((101, 6), (102, 7))
