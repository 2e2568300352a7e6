"""The static site rendered from a store a real sync filled, read through its DOM."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from lapor_bridge.reports.site import build_site
from lapor_bridge.runtime import Runtime
from lapor_bridge.sla.commands import show_summary
from lapor_bridge.sla.views import rank_opds

from .conftest import LINK_TEMPLATE, SECRET, Seeded


@pytest.fixture(scope="module")
def site(seeded: Seeded, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build_site(seeded.rt, out, now=seeded.now)
    assert result.report_pages > 0 and result.opd_pages > 10
    return out


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def summary_json(seeded: Seeded) -> list[dict]:
    out = io.StringIO()
    show_summary(seeded.rt, since=None, fmt="json", out=out, now=seeded.now)
    return json.loads(out.getvalue())


def test_overview_counts_equal_sla_summary_and_ranking_order(seeded: Seeded, site: Path) -> None:
    page = soup(site / "index.html")
    shown: dict[tuple[str, str], dict[str, int]] = {}
    for tr in page.select("#ranking tbody tr"):
        counts = {td["data-state"]: int(td.get_text()) for td in tr.select("td[data-state]")}
        shown[(tr["data-opd"], tr["data-policy"])] = counts
    expected = {(s["opd"], s["policy"]): s["counts"] for s in summary_json(seeded)}
    assert shown == expected
    assert sum(sum(c.values()) for c in shown.values()) > 500

    # ranked by breaches (BREACHED + MET_LATE over every policy), most first
    order = []
    for tr in page.select("#ranking tbody tr"):
        cell = tr.select_one("td[data-breaches]")
        if cell is not None:
            order.append((tr["data-opd"], int(cell.get_text())))
    breaches = [n for _, n in order]
    assert breaches == sorted(breaches, reverse=True) and breaches[0] > breaches[-1]
    for opd, n in order:
        counts = [shown[k] for k in shown if k[0] == opd]
        assert n == sum(c["BREACHED"] + c["MET_LATE"] for c in counts)
    # the same order as the ranking function the recap and `sla summary --sort` use
    from lapor_bridge.sla.policy import default_policies
    from lapor_bridge.sla.views import summarize
    from lapor_bridge.store import read_session

    with read_session(seeded.rt.engine) as session:
        ranked = rank_opds(
            summarize(
                session,
                now=seeded.now,
                policies=default_policies(seeded.rt.settings.mappings_dir),
            )
        )
    assert [opd for opd, _ in order] == [r.opd for r in ranked]
    # the chart is inline SVG, one bar label per ranked OPD with clocks
    svg = page.select_one("#ranking-chart svg")
    assert svg is not None and not page.find_all("script")
    assert page.select_one("#per-day-chart svg") is not None


def test_every_link_resolves_and_lapor_links_follow_the_template(
    seeded: Seeded, site: Path
) -> None:
    files = sorted(site.rglob("*.html"))
    assert (site / "opd" / "DPUPR.html") in files
    prefix, suffix = LINK_TEMPLATE.split("{tracking_id}")
    lapor_links = 0
    for path in files:
        text = path.read_text(encoding="utf-8")
        # no http reference of any kind (script, style, font, image, namespace) but the links
        for match in re.finditer(r"https?:", text):
            before = text[max(0, match.start() - 6) : match.start()]
            assert before == 'href="', f"{path.name}: {text[match.start() - 40 : match.end() + 40]}"
        for a in soup(path).find_all(["a", "link", "img", "script"]):
            href = a.get("href") or a.get("src")
            if href is None:
                continue
            if href.startswith("http"):
                assert href.startswith(prefix) and href.endswith(suffix), href
                tracking_id = href[len(prefix) : len(href) - len(suffix)]
                assert tracking_id.isdigit()
                assert href == seeded.rt.settings.report_link(int(tracking_id))
                lapor_links += 1
            elif not href.startswith("data:"):
                assert (path.parent / href).resolve().is_file(), f"{path}: {href}"
    assert lapor_links > 100


def test_rahasia_is_withheld_everywhere(seeded: Seeded, site: Path) -> None:
    for path in site.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8"), path
    page = soup(site / "laporan" / f"{seeded.rahasia_id}.html")
    assert page.select_one("#report h2").get_text(strip=True) == "[RAHASIA]"
    assert page.select_one("#content").get_text(strip=True) == "[RAHASIA]"
    replies = page.select('#thread li[data-who="PELAPOR"]')
    assert replies and all("[RAHASIA]" in li.get_text() for li in replies)
    # no reporter identity: the simulator's reporter names never reach a page
    from sqlalchemy import select

    from lapor_bridge.store import read_session
    from lapor_bridge.store.tables import ReportRow

    with read_session(seeded.rt.engine) as session:
        phones = {p for p in session.execute(select(ReportRow.reporter_phone)).scalars() if p}
        emails = {e for e in session.execute(select(ReportRow.reporter_email)).scalars() if e}
    assert phones and emails
    text = "".join(p.read_text(encoding="utf-8") for p in site.rglob("*.html"))
    assert not [who for who in phones | emails if who in text]


def test_opd_page_lists_open_reports_most_urgent_first_with_both_clocks(
    seeded: Seeded, site: Path
) -> None:
    from lapor_bridge.store import read_session
    from lapor_bridge.store.tables import Assignment

    with read_session(seeded.rt.engine) as session:
        opd = session.get(Assignment, seeded.formula_id).opd
    page = soup(site / "opd" / f"{opd}.html")
    rows = page.select("#open tbody tr")
    ids = [int(tr["data-tracking-id"]) for tr in rows]
    assert seeded.formula_id in ids and len(ids) == len(set(ids))
    row = rows[ids.index(seeded.formula_id)]
    assert {td["data-policy"] for td in row.select("td[data-policy]")} == {
        "bupati-24h",
        "nasional-5hk",
    }
    assert "sisa" in row.get_text() or "terlambat" in row.get_text()
    # the citizen's text is text: escaped, never markup
    assert "=1+2 jalan rusak" in row.get_text()
    # most urgent first: every breached row before every row that is not
    states = ["BREACHED" if tr.select_one("td[data-policy] .BREACHED") else "other" for tr in rows]
    assert states == sorted(states, key=lambda s: s != "BREACHED")


def test_indonesian_by_default_english_by_setting(seeded: Seeded, site: Path, tmp_path) -> None:
    page = soup(site / "index.html")
    assert page.html["lang"] == "id"
    assert "Peringkat OPD menurut pelanggaran" in page.get_text()
    assert re.search(
        r"\d{1,2} (Jan|Feb|Mar|Apr|Mei|Jun|Jul|Agu|Sep|Okt|Nov|Des) \d{4} \d{2}\.\d{2} WIB",
        page.get_text(),
    )
    english = Runtime(seeded.settings(language="en"))
    build_site(english, tmp_path, now=seeded.now)
    page = soup(tmp_path / "index.html")
    assert page.html["lang"] == "en" and "OPD ranked by breaches" in page.get_text()
    english.engine.dispose()


def test_dead_outbox_items_are_listed(seeded: Seeded, site: Path) -> None:
    page = soup(site / "index.html")
    rows = page.select("#dead tbody tr")
    assert [int(tr["data-tracking-id"]) for tr in rows] == [seeded.dead_id]
    assert "transferred" in rows[0].get_text() or "dialihkan" in rows[0].get_text()


def test_catalog_translates_every_source_string() -> None:
    from babel.messages.extract import extract_from_dir

    from lapor_bridge.i18n import translations
    from lapor_bridge.reports import site as site_module

    root = Path(site_module.__file__).parent
    found = {
        m if isinstance(m, str) else m[0]
        for _, _, m, _, _ in extract_from_dir(
            root,
            method_map=[("templates/**.html", "jinja2.ext:babel_extract")],
            options_map={"templates/**.html": {"extensions": "jinja2.ext.i18n"}},
        )
    }
    for labels in (
        site_module.STATE_LABELS,
        site_module.AUTHOR_LABELS,
        site_module.DELIVERY_LABELS,
    ):
        found |= set(labels.values())
    catalog = translations("reports", "id")
    missing = sorted(
        m
        for m in found
        if catalog.gettext(m) == m
        and m not in {"OPD", "Median", "Status", "Mas Bup Siaga", "Kecamatan", "Desa"}
    )
    assert not missing


@pytest.mark.postgres
def test_site_from_a_postgresql_store_counts_as_sla_summary(
    pg_url, make_simulator, make_runtime, tmp_path
) -> None:
    from lapor_bridge.sync.engine import run_sync
    from lapor_bridge.timeutil import utcnow

    rt = make_runtime(make_simulator(initial_reports=150), pg_url)
    run_sync(rt, push=False)
    now = utcnow()
    result = build_site(rt, tmp_path, now=now)
    assert result.report_pages > 0
    page = soup(tmp_path / "index.html")
    shown = {
        (tr["data-opd"], tr["data-policy"]): {
            td["data-state"]: int(td.get_text()) for td in tr.select("td[data-state]")
        }
        for tr in page.select("#ranking tbody tr")
    }
    out = io.StringIO()
    show_summary(rt, since=None, fmt="json", out=out, now=now)
    assert shown == {(s["opd"], s["policy"]): s["counts"] for s in json.loads(out.getvalue())}
    assert page.select("#kecamatan tbody tr")
    rt.engine.dispose()


def test_a_refresh_renders_only_the_report_pages_whose_facts_changed(
    seeded: Seeded, tmp_path: Path
) -> None:
    import sqlite3
    from datetime import timedelta

    from lapor_bridge.mapping import load_mapping
    from lapor_bridge.outbox.respond import TindakLanjutDraft, record_follow_up
    from lapor_bridge.sla.policy import default_policies

    # a copy of the seeded store, so this test's follow-up stays here
    source = Path(seeded.url.removeprefix("sqlite:///"))
    copy = tmp_path / "copy.db"
    with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)  # WAL-safe copy
    rt = Runtime(seeded.settings(database_url=f"sqlite:///{copy}"))
    out = tmp_path / "site"
    first = build_site(rt, out, now=seeded.now)
    assert first.rendered == first.report_pages > 0
    later = seeded.now + timedelta(minutes=5)
    again = build_site(rt, out, now=later)
    assert again.rendered == 0 and again.report_pages == first.report_pages

    page = out / "laporan" / f"{seeded.formula_id}.html"
    record_follow_up(
        rt.engine,
        TindakLanjutDraft(seeded.formula_id, "DIPROSES", "Tim sudah ke lokasi"),
        now=later,
        policies=default_policies(rt.settings.mappings_dir),
        units=load_mapping(rt.settings.mappings_dir).unit_names,
    )
    (out / "laporan" / f"{seeded.rahasia_id}.html").unlink()  # lost by hand: written again
    third = build_site(rt, out, now=later)
    assert third.rendered == 2
    assert "Tim sudah ke lokasi" in page.read_text(encoding="utf-8")
    assert (out / "laporan" / f"{seeded.rahasia_id}.html").is_file()

    english = Runtime(rt.settings.model_copy(update={"language": "en"}))
    assert build_site(english, out, now=later).rendered == first.report_pages
    english.engine.dispose()
    rt.engine.dispose()


def test_report_page_gives_the_mappings_explain_reasons(seeded: Seeded, site: Path) -> None:
    from lapor_bridge.mapping import load_mapping
    from lapor_bridge.mapping.explain import explain
    from lapor_bridge.store import read_session

    mapping = load_mapping(seeded.rt.settings.mappings_dir)
    checked = 0
    for path in sorted((site / "laporan").glob("*.html")):
        with read_session(seeded.rt.engine) as session:
            x = explain(session, mapping, int(path.stem))
        page = soup(path)
        section = page.select_one("#assignment")
        said = section.select_one("#rules-say").get_text(" ", strip=True)
        assert x.rules_say in said
        if x.matched:
            assert x.matched.rule_id in said and x.matched.reason in said
        shown = [li["data-rule"] for li in section.select("#earlier li")]
        assert shown == [v.rule_id for v in x.earlier]  # every rule before it, in order
        for li, v in zip(section.select("#earlier li"), x.earlier, strict=True):
            assert v.reason in li.get_text() and v.opd in li.get_text()
        assert [li.get_text(strip=True) for li in section.select("#notes li")] == list(x.notes)
        assert len(section.select("#history li")) == len(x.history)
        checked += bool(x.earlier) and bool(x.history)
        if checked >= 5:
            break
    assert checked >= 5  # pages with earlier rules and a history were compared


def test_a_mapping_edit_or_a_new_assignment_renders_the_pages_again(
    seeded: Seeded, tmp_path: Path
) -> None:
    import shutil
    import sqlite3

    source = Path(seeded.url.removeprefix("sqlite:///"))
    copy = tmp_path / "copy.db"
    with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    mappings = tmp_path / "mappings"
    shutil.copytree(seeded.rt.settings.mappings_dir, mappings)
    rt = Runtime(seeded.settings(database_url=f"sqlite:///{copy}", mappings_dir=mappings))
    out = tmp_path / "site"
    first = build_site(rt, out, now=seeded.now)
    assert build_site(rt, out, now=seeded.now).rendered == 0
    with sqlite3.connect(copy) as db:  # an admin's manual assignment, as `assign` stores it
        db.execute(
            "UPDATE assignment SET mapped_by = 'manual', reason = 'dipindah tangan' "
            "WHERE tracking_id = ?",
            (seeded.formula_id,),
        )
    again = build_site(rt, out, now=seeded.now)
    assert again.rendered == 1
    page = soup(out / "laporan" / f"{seeded.formula_id}.html")
    assert "dipindah tangan" in page.select_one("#assigned").get_text()
    rules = mappings / "rules.yaml"
    rules.write_text(rules.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert build_site(rt, out, now=seeded.now).rendered == first.report_pages
    rt.engine.dispose()


def test_shared_rule_verdicts_equal_each_report_explained_alone(seeded: Seeded) -> None:
    from lapor_bridge.mapping import load_mapping
    from lapor_bridge.mapping.explain import explain, explain_many
    from lapor_bridge.store import read_session
    from lapor_bridge.store.tables import ReportRow

    mapping = load_mapping(seeded.rt.settings.mappings_dir)
    with read_session(seeded.rt.engine) as session:
        ids = list(session.scalars(select_ids(ReportRow)))
        together = explain_many(session, mapping, ids)  # one verdict cache for all
        alone = {tid: explain(session, mapping, tid) for tid in ids}
    assert len(ids) > 300 and together == alone
    assert sum(len(x.earlier) for x in alone.values()) > len(ids)  # verdicts were shared


def select_ids(table):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    return select(table.tracking_id).order_by(table.tracking_id)
