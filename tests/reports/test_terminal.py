"""What a liaison and an admin read in a terminal: `sla --opd`, `show`,
`sla summary` options, `export --excel`, OPD codes in any case."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from typer.testing import CliRunner

from cli import app
from lapor_bridge.sla.policy import default_policies
from lapor_bridge.sla.views import list_report_clocks, rank_opds, summarize
from lapor_bridge.store import read_session
from lapor_bridge.store.tables import Assignment

from .conftest import FORMULA, LINK_TEMPLATE, REPO, SECRET, Seeded


@pytest.fixture
def cli(seeded: Seeded, monkeypatch: pytest.MonkeyPatch, tmp_path) -> CliRunner:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LAPOR_BRIDGE_DATABASE_URL", seeded.url)
    monkeypatch.setenv("LAPOR_BRIDGE_MAPPINGS_DIR", str(REPO / "mappings"))
    monkeypatch.setenv("LAPOR_BRIDGE_LAPOR_URL_TEMPLATE", LINK_TEMPLATE)
    return CliRunner()


def run(cli: CliRunner, *args: str) -> str:
    result = cli.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def ids_in(output: str) -> list[int]:
    return [int(m[1]) for line in output.splitlines() if (m := re.match(r"^ ?(\d{6,})\s", line))]


@pytest.mark.parametrize(
    ("lang", "id_header", "more", "states"),
    [
        ("id", "nomor", "laporan lagi: pakai --limit", ("lewat tenggat", "sesuai jadwal", "hampir terlambat", "tepat waktu", "terlambat", "dialihkan")),
        ("en", "id", "more, use --limit", ("breached", "on track", "at risk", "met", "late", "stopped")),
    ],
)  # fmt: skip
def test_liaison_worklist_one_row_per_report_fits_80_columns(
    cli: CliRunner,
    seeded: Seeded,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
    id_header: str,
    more: str,
    states: tuple[str, ...],
) -> None:
    monkeypatch.setenv("LAPOR_BRIDGE_LANGUAGE", lang)
    with read_session(seeded.rt.engine) as session:
        opd = session.get(Assignment, seeded.formula_id).opd
        expected = list_report_clocks(
            session,
            now=seeded.now,
            policies=default_policies(REPO / "mappings"),
            opd=opd,
        )
    assert expected.total > 3
    output = run(cli, "sla", "--opd", opd.lower(), "--limit", "3")
    lines = output.splitlines()
    assert max(len(line) for line in lines) <= 80
    header = next(line for line in lines if line.strip().startswith(id_header + " "))
    assert "bupati-24h" in header and "nasional-5hk" in header  # both clocks, names whole
    assert ids_in(output) == [r.tracking_id for r in expected.reports[:3]]  # most urgent first
    assert f"{expected.total - 3} {more} {expected.total}" in output

    everything = run(cli, "sla", "--opd", opd, "--limit", "0")
    assert ids_in(everything) == [r.tracking_id for r in expected.reports]
    assert more not in everything
    assert "=1+2" in everything  # citizen text printed as text (rich markup escaped)
    shown = {s for s in states if s in everything}
    wanted = {
        states[ClockStateOrder.index(r.clocks[p].state)] for r in expected.reports for p in r.clocks
    }
    assert wanted <= shown  # every state the reports are in, in the language
    other = ("lewat tenggat", "sisa") if lang == "en" else ("breached", " left", "overdue")
    assert not any(word in everything for word in other)
    # open clocks say their time left, in the language; a stopped one when, in WIB
    assert (
        ("sisa " in everything or "terlambat " in everything)
        if lang == "id"
        else (" left" in everything or " overdue" in everything)
    )
    wib = re.compile(r"\d{1,2} (" + "|".join(_MONTHS[lang]) + r") \d{4}")
    if any(c.stopped_at for r in expected.reports for c in r.clocks.values()):
        assert wib.search(everything.replace("\n", " "))


ClockStateOrder = ["BREACHED", "ON_TRACK", "AT_RISK", "MET", "MET_LATE", "STOPPED"]
_MONTHS = {
    "id": ("Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def test_unknown_opd_code_is_an_error_with_did_you_mean_everywhere(cli: CliRunner) -> None:
    for args in (
        ["sla", "--opd", "DINKSE"],
        ["sla", "summary", "--opd", "dinkse"],
        ["outbox", "--opd", "DINKSE"],
        ["replies", "--opd", "DINKSE"],
        ["export", "--format", "csv", "--opd", "DINKSE"],
    ):
        result = cli.invoke(app, args)
        assert result.exit_code != 0, args
        assert "did you mean DINKES?" in result.output, (args, result.output)
    assert cli.invoke(app, ["outbox", "--opd", "dinkes"]).exit_code == 0


def test_show_prints_one_report_with_thread_clocks_and_assignment(
    cli: CliRunner, seeded: Seeded
) -> None:
    output = run(cli, "show", str(seeded.rahasia_id))
    assert SECRET not in output
    assert f"Laporan {seeded.rahasia_id}: [RAHASIA]" in output
    assert "Tanggapan pelapor" in output  # the citizen's reply, its text withheld
    assert "bupati-24h:" in output and "nasional-5hk:" in output
    assert "Penugasan dan alasannya" in output
    assert seeded.rt.settings.report_link(seeded.rahasia_id) in output
    result = cli.invoke(app, ["show", "1"])
    assert result.exit_code != 0 and "no report 1 in the store" in result.output


def test_summary_sorts_filters_and_writes_csv(cli: CliRunner, seeded: Seeded) -> None:
    rows = list(
        csv.DictReader(io.StringIO(run(cli, "sla", "summary", "--sort", "breaches", "--csv")))
    )
    with read_session(seeded.rt.engine) as session:
        policies = default_policies(REPO / "mappings")
        ranked = rank_opds(summarize(session, now=seeded.now, policies=policies))
    order = list(dict.fromkeys(r["opd"] for r in rows))
    assert order == [r.opd for r in ranked]
    one = list(csv.DictReader(io.StringIO(run(cli, "sla", "summary", "--opd", "dpupr", "--csv"))))
    assert {r["opd"] for r in one} == {"DPUPR"} and len(one) == 2
    table = run(cli, "sla", "summary", "--until", "2000-01-01")
    assert "DPUPR" not in table
    assert "%tepat = tepat / (tepat + telat + lewat)" in " ".join(table.split())


@pytest.mark.parametrize(
    ("lang", "title", "headers", "legend"),
    [
        ("id", "Ringkasan SLA per OPD, ketentuan", ["OPD", "jml", "jalan", "rawan", "lewat", "tepat", "telat", "alih", "%tepat", "median", "p90"], "%tepat = tepat / (tepat + telat + lewat)"),
        ("en", "SLA summary per OPD, policy", ["OPD", "total", "track", "risk", "breached", "met", "late", "stopped", "time", "median", "p90"], "on time = met / (met + late + breached)"),
    ],
)  # fmt: skip
def test_summary_table_in_the_language_fits_80_columns_and_counts_as_json(
    cli: CliRunner,
    seeded: Seeded,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
    title: str,
    headers: list[str],
    legend: str,
) -> None:
    monkeypatch.setenv("LAPOR_BRIDGE_LANGUAGE", lang)
    table = run(cli, "sla", "summary", "--sort", "breaches")
    with read_session(seeded.rt.engine) as session:
        policies = default_policies(REPO / "mappings")
        ranked = rank_opds(summarize(session, now=seeded.now, policies=policies))
    lines = table.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert legend in " ".join(table.split())  # every column said in full below the tables
    counted = {(s["opd"], s["policy"]): s for s in json.loads(run(cli, "sla", "summary", "--json"))}
    for policy in ("bupati-24h", "nasional-5hk"):
        start = next(i for i, line in enumerate(lines) if f"{title} {policy}" in line)
        rule = next(i for i in range(start, len(lines)) if lines[i].lstrip().startswith("─"))
        assert lines[rule - 1].split() == headers
        body = []
        for line in lines[rule + 1 :]:
            cells = line.split()
            if len(cells) != len(headers) or (cells[0], policy) not in counted:
                break  # the table's end: a blank line or the next table's title
            body.append(cells)
        assert [cells[0] for cells in body] == [r.opd for r in ranked if policy in r.policies]
        for cells in body:
            s = counted[(cells[0], policy)]
            states = ("ON_TRACK", "AT_RISK", "BREACHED", "MET", "MET_LATE", "STOPPED")
            assert [int(c) for c in cells[1:8]] == [s["total"], *(s["counts"][x] for x in states)]
            share = s["on_time_share"]
            assert cells[8] == ("-" if share is None else f"{share:.0%}")
            unit = "j" if lang == "id" else "h"
            assert cells[9] == "-" or cells[9].endswith(unit)
        assert {cells[0] for cells in body} == {o for o, p in counted if p == policy}


def test_export_for_excel(cli: CliRunner, seeded: Seeded, tmp_path) -> None:
    out = tmp_path / "laporan.csv"
    run(cli, "export", "--format", "csv", "--excel", "-o", str(out), "--since", "2026-01-01")
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    by_id = {int(r["tracking_id"]): r for r in rows}
    formula = by_id[seeded.formula_id]
    assert formula["title"] == "'" + FORMULA  # shown as text by Excel, never run
    assert formula["transferred"] == "tidak" and formula["masbupsiaga"] in ("ya", "tidak")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", formula["disposed_at"])
    assert by_id[seeded.rahasia_id]["title"] == "[RAHASIA]"
    assert SECRET not in raw.decode("utf-8-sig")
    # a plain CSV guards formulas too
    plain = run(cli, "export", "--format", "csv", "--opd", formula["opd"].lower())
    plain_rows = list(csv.DictReader(io.StringIO(plain)))
    assert {r["opd"] for r in plain_rows} == {formula["opd"]}
    assert any(r["title"] == "'" + FORMULA for r in plain_rows)


def test_report_and_recap_commands(cli: CliRunner, seeded: Seeded, tmp_path) -> None:
    result = cli.invoke(app, ["report", "--out", str(tmp_path / "situs"), "--since", "2026-01-01"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "situs" / "index.html").is_file() and "open reports" in result.output
    result = cli.invoke(app, ["recap", "--month", "2026-13", "--out", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 2 and "YYYY-MM" in result.output
    result = cli.invoke(
        app,
        [
            "recap",
            "--month",
            "2026-11",
            "--out",
            str(tmp_path / "r.xlsx"),
            "--csv",
            str(tmp_path / "p.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.xlsx").is_file() and (tmp_path / "p.csv").is_file()


def test_terminal_catalog_translates_every_source_string() -> None:
    from babel.messages.extract import extract_from_file

    from lapor_bridge.i18n import translations
    from lapor_bridge.outbox import views as outbox_views
    from lapor_bridge.sla import commands as sla_commands

    files = [sla_commands.__file__, outbox_views.__file__, REPO / "lapor_bridge/outbox/commands.py"]
    found = {
        m if isinstance(m, str) else m[0]
        for path in files
        for _, m, _, _ in extract_from_file("python", path)
    }
    found |= set(sla_commands._SHORT.values()) | {
        sla_commands.SUMMARY_LEGEND,
        outbox_views.RAHASIA_MARK,
    }
    assert {"%(n)s report(s), most urgent first", "no citizen replies."} <= found
    catalog = translations("terminal", "id")
    same = {"kecamatan", ", OPD %(opd)s"}  # the same word in both languages
    missing = sorted(m for m in found if catalog.gettext(m) == m and m not in same)
    assert not missing
    untranslated = [
        h
        for h in sla_commands.SUMMARY_HEADERS
        if catalog.pgettext("summary column", h) == h and h not in {"median", "p90"}
    ]
    assert not untranslated


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("id", ("Laporan ", "Isi:", "Tenggat SLA:", "Penugasan dan alasannya:", "Aturan mengarahkan ke")),
        ("en", ("Report ", "Content:", "SLA clocks:", "Assignment and why:", "The rules say")),
    ],
)  # fmt: skip
def test_show_in_the_language_with_the_explain_reasons(
    cli: CliRunner,
    seeded: Seeded,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
    words: tuple[str, ...],
) -> None:
    from lapor_bridge.mapping import load_mapping
    from lapor_bridge.mapping.explain import explain

    monkeypatch.setenv("LAPOR_BRIDGE_LANGUAGE", lang)
    output = run(cli, "show", str(seeded.formula_id))
    for word in words:
        assert word in output, word
    with read_session(seeded.rt.engine) as session:
        x = explain(session, load_mapping(REPO / "mappings"), seeded.formula_id)
    for verdict in x.earlier:
        assert f"{verdict.rule_id} ({verdict.where}, {verdict.opd}): {verdict.reason}" in output
    month = (
        r"(Jan|Feb|Mar|Apr|Mei|Jun|Jul|Agu|Sep|Okt|Nov|Des)"
        if lang == "id"
        else (r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)")
    )
    assert re.search(r"\d{1,2} " + month + r" \d{4} \d{2}\.\d{2} WIB", output)


@pytest.mark.parametrize(
    ("lang", "title", "mark"),
    [
        ("id", "Balasan pelapor", "[RAHASIA: teksnya hanya disimpan di basis data lokal]"),
        ("en", "Citizens' replies", "[RAHASIA: text kept in the local store only]"),
    ],
)
def test_replies_in_the_language_withhold_rahasia(
    cli: CliRunner,
    seeded: Seeded,
    monkeypatch: pytest.MonkeyPatch,
    lang: str,
    title: str,
    mark: str,
) -> None:
    monkeypatch.setenv("LAPOR_BRIDGE_LANGUAGE", lang)
    output = run(cli, "replies")
    assert title in output and SECRET not in output
    row = next(line for line in output.splitlines() if str(seeded.rahasia_id) in line)
    assert mark in " ".join(output.split())
    assert re.search(r"\d{1,2} \w{3} \d{4} \d{2}\.\d{2} WIB", row)
    none = run(cli, "replies", "--since", "2099-01-01")
    assert none.strip() == (
        "belum ada balasan pelapor sejak 1 Jan 2099 00.00 WIB."
        if lang == "id"
        else "no citizen replies since 1 Jan 2099 00.00 WIB."
    )
