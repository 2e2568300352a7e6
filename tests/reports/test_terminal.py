"""What a liaison and an admin read in a terminal: `sla --opd`, `show`,
`sla summary` options, `export --excel`, OPD codes in any case."""

from __future__ import annotations

import csv
import io
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


def test_liaison_worklist_one_row_per_report_fits_80_columns(
    cli: CliRunner, seeded: Seeded
) -> None:
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
    header = next(line for line in lines if line.strip().startswith("id"))
    assert "bupati-24h" in header and "nasional-5hk" in header  # both clocks, names whole
    ids = [int(m[1]) for line in lines if (m := re.match(r"^ ?(\d{6,})\s", line))]
    assert ids == [r.tracking_id for r in expected.reports[:3]]  # most urgent first, once each
    assert f"{expected.total - 3} more, use --limit {expected.total}" in output

    everything = run(cli, "sla", "--opd", opd, "--limit", "0")
    ids = [int(m[1]) for line in everything.splitlines() if (m := re.match(r"^ ?(\d{6,})\s", line))]
    assert ids == [r.tracking_id for r in expected.reports] and "more, use" not in everything
    assert "=1+2" in everything  # citizen text printed as text (rich markup escaped)


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
    assert "DPUPR" not in table and "on time = met / (met + late + breached)" in table


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
