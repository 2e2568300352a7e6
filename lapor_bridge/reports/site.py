"""`lapor-bridge report --out DIR`: the static, self-contained SLA site.

    DIR/index.html            the overview for the Regent's office
    DIR/opd/<CODE>.html       one page per OPD for its liaison
    DIR/laporan/<ID>.html     one page per open report

Pages come from the Jinja2 templates beside this module (autoescaped), text
from the `reports` Babel catalog (Indonesian by default), times in the
regency's zone written the Indonesian way, charts as inline SVG. Nothing is
fetched from the internet: the only links out are the LAPOR! report links
(`lapor_url_template`). Each file is written to a temporary name and renamed,
so a reader on the file share never sees half a page; pages of reports that
are no longer open are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

import jinja2
import jinja2.ext
import jinja2.lexer
from markupsafe import Markup

from lapor_bridge.i18n import (
    CATALOG_DIR,
    format_duration,
    format_local_time,
    format_time_left,
    translations,
)
from lapor_bridge.mapping import load_mapping
from lapor_bridge.reports import charts, data
from lapor_bridge.runtime import Runtime
from lapor_bridge.sla.clock import ClockState
from lapor_bridge.sla.policy import default_policies
from lapor_bridge.sla.views import UNASSIGNED
from lapor_bridge.store import read_session
from lapor_bridge.timeutil import utcnow

TEMPLATES = Path(__file__).parent / "templates"
LIST_LIMIT = 100  # rows of each list on the overview (the OPD pages list all)
STATES = [s.value for s in (ClockState.ON_TRACK, ClockState.AT_RISK, ClockState.BREACHED, ClockState.MET, ClockState.MET_LATE, ClockState.STOPPED)]  # fmt: skip
UNASSIGNED_PAGE = "TANPA_OPD"

# Source strings (English) of the labels the filters print; the catalog translates them.
STATE_LABELS = {
    "ON_TRACK": "on track",
    "AT_RISK": "at risk",
    "BREACHED": "breached",
    "MET": "met",
    "MET_LATE": "met late",
    "STOPPED": "stopped (transferred)",
}
AUTHOR_LABELS = {
    "OPD": "OPD (through the bridge)",
    "INSTANSI": "Answer on the LAPOR! site",
    "PELAPOR": "Citizen's reply",
    "ADMIN": "LAPOR! admin",
}
DELIVERY_LABELS = {
    "pending": "waiting to be sent",
    "sending": "being sent",
    "sent": "sent to LAPOR!",
    "failed": "failed, will retry",
    "dead": "not deliverable",
    "cancelled": "cancelled",
}
CHANNEL_LABELS = {data.PROGRAMME: "Mas Bup Siaga"}


@dataclass(frozen=True)
class SiteResult:
    out_dir: Path
    pages: int
    opd_pages: int
    report_pages: int
    rendered: int  # report pages rendered this run (the others had not changed)
    removed: int

    def describe(self) -> str:
        return (
            f"wrote {self.pages} pages to {self.out_dir} (overview, {self.opd_pages} OPD, "
            f"{self.report_pages} open reports of which {self.rendered} changed; "
            f"{self.removed} old report pages removed)"
        )


def page_name(code: str) -> str:
    return UNASSIGNED_PAGE if code == UNASSIGNED else re.sub(r"[^A-Za-z0-9_-]", "_", code)


class TranslateLiterals(jinja2.ext.Extension):
    """`_("literal")` becomes the translated literal when a template is
    compiled (once per build), instead of a call on every page: the site
    renders tens of thousands of pages from the same words. Calls on anything
    but one string literal stay calls."""

    def filter_stream(self, stream: jinja2.lexer.TokenStream) -> Any:
        gettext = self.environment.globals["gettext"]
        window: list[jinja2.lexer.Token] = []
        for token in stream:
            window.append(token)
            if len(window) < 4:
                continue
            name, lparen, literal, rparen = window[-4:]
            if (
                name.test("name:_")
                and lparen.test("lparen")
                and literal.test("string")
                and rparen.test("rparen")
            ):
                del window[-4:]
                window.append(jinja2.lexer.Token(literal.lineno, "string", gettext(literal.value)))
            if len(window) > 4:
                yield window.pop(0)
        yield from window


def environment(
    *, lang: str, zone: Any, report_link: Any, policy_text: dict[str, str]
) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n", TranslateLiterals],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # compiled once per build
    )
    catalog = translations("reports", lang)  # type: ignore[arg-type]
    t = lru_cache(maxsize=None)(catalog.gettext)  # plain and cached: pages repeat the same words

    @lru_cache(maxsize=65536)
    def wib(moment: datetime | None) -> str:
        return "-" if moment is None else format_local_time(moment, lang, zone)  # type: ignore[arg-type]

    env.install_gettext_callables(  # type: ignore[attr-defined]
        t, lambda one, many, n: catalog.ngettext(one, many, n), newstyle=False
    )
    env.filters.update(
        wib=wib,
        time_left=lambda s: format_time_left(s, lang),  # type: ignore[arg-type]
        duration=lambda s: "-" if s is None else format_duration(s, lang),  # type: ignore[arg-type]
        pct=lambda share: "-" if share is None else f"{share:.0%}".replace(".", ","),
        state=lambda s: t(STATE_LABELS.get(str(s), str(s))),
        author=lambda a: t(AUTHOR_LABELS.get(a, a)),
        delivery=lambda d: t(DELIVERY_LABELS.get(d, d)),
        channel=lambda c, programme=False: t(
            CHANNEL_LABELS.get(data.PROGRAMME if programme else c, c)
        ),
        lapor_link=report_link,
        page_name=page_name,
        basename=_basename,
        verdict_items=_verdict_items,
        policy_text=lambda p: policy_text.get(p, p),
    )
    env.globals.update(lang=lang, withheld=data.WITHHELD, states=STATES)
    return env


@lru_cache(maxsize=4096)
def _basename(where: str) -> str:
    """`mappings/rules.yaml:12` -> `rules.yaml:12` (a rule's file:line)."""
    return Path(where).name


@lru_cache(maxsize=65536)
def _verdict_items(verdicts: tuple[Any, ...]) -> Markup:
    """The `<li>` of each rule that did not match, escaped: reports with the
    same facts share the same verdicts, so each list is built once per build."""
    item = Markup('<li data-rule="{0}">{0} ({1}, {2}): {3}</li>')
    return Markup("").join(
        item.format(v.rule_id, _basename(v.where), v.opd, v.reason) for v in verdicts
    )


def _write(path: Path, text: str) -> bool:
    """Write `text` to `path` through a temporary file and a rename; an
    unchanged page is left alone (most report pages between two cron runs)."""
    data = text.encode("utf-8")
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
    return True


def build_site(
    rt: Runtime,
    out_dir: Path,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> SiteResult:
    """Render the whole site into `out_dir` (created if missing) from the store."""
    settings = rt.settings
    now = now or utcnow()
    lang = settings.language
    zone = settings.zone
    policies = default_policies(settings.mappings_dir)
    mapping = load_mapping(settings.mappings_dir)
    env = environment(
        lang=lang,
        zone=zone,
        report_link=settings.report_link,
        policy_text={name: p.description for name, p in policies.policies.items()},
    )
    t = translations("reports", lang).gettext  # type: ignore[arg-type]
    with read_session(rt.engine) as session:
        o = data.overview(session, now=now, policies=policies, zone=zone, since=since, until=until)
        opd_codes = list(mapping.units)
        opd_codes += sorted({r.opd for r in o.ranking} - set(opd_codes))
        pages = data.opd_pages(
            session,
            now=now,
            policies=policies,
            mapping=mapping,
            codes=opd_codes,
            open_list=o.open_list,
        )
        open_reports = [r for page in pages for r in page.open]
        reader = data.DetailReader(session, mapping, policies, now)
        reader.preload(open_reports)
        report_ids = {r.tracking_id for r in open_reports}

        (out_dir / "opd").mkdir(parents=True, exist_ok=True)
        (out_dir / "laporan").mkdir(exist_ok=True)
        common = {"generated": now, "pages": report_ids}
        render = partial(_render, env)
        _write(
            out_dir / "index.html",
            render(
                "overview.html",
                root="",
                o=o,
                period=_period_text(since, until, lang, zone, t),
                names=mapping.unit_names,
                ranking_chart=_ranking_chart(o, t),
                per_day_chart=_per_day_chart(o, lang, t),
                list_limit=LIST_LIMIT,
                opd_codes=opd_codes,
                **common,
            ),
        )
        for page in pages:
            _write(
                out_dir / "opd" / f"{page_name(page.code)}.html",
                render("opd.html", root="../", page=page, policies=o.policies, **common),
            )
        report_template = env.get_template("report.html")
        version = _pages_version(settings, policies, reader.topics_key())
        known = _read_manifest(out_dir, version)
        on_disk = {p.name for p in (out_dir / "laporan").iterdir()}
        digests: dict[str, str] = {}
        changed: list[int] = []
        ordered = sorted(report_ids)
        for start in range(0, len(ordered), 2000):
            # the rows of each page first: only a page whose rows changed is built again
            chunk = ordered[start : start + 2000]
            fresh = reader.fingerprints(chunk)
            unchanged, todo = [], []
            for tid, digest in fresh.items():
                digests[str(tid)] = digest
                if known.get(str(tid)) == digest and f"{tid}.html" in on_disk:
                    unchanged.append(tid)  # same rows, same templates: that page is this page
                else:
                    todo.append(tid)
            reader.forget(unchanged)
            changed += todo
            for detail in reader.details(todo):
                path = out_dir / "laporan" / f"{detail.tracking_id}.html"
                _write(path, report_template.render(root="../", d=detail, **common))
        rendered = len(changed)
        _write(out_dir / MANIFEST, json.dumps({"version": version, "pages": digests}))
    removed = 0
    for old in (out_dir / "laporan").glob("*.html"):
        if old.stem.isdigit() and int(old.stem) not in report_ids:
            old.unlink()
            removed += 1
    return SiteResult(
        out_dir=out_dir,
        pages=1 + len(pages) + len(report_ids),
        opd_pages=len(pages),
        report_pages=len(report_ids),
        rendered=rendered,
        removed=removed,
    )


MANIFEST = ".report-pages.json"  # tracking id -> digest of what its page shows


def _pages_version(settings: Any, policies: Any, topics: str) -> str:
    """What every report page depends on besides its rows: templates, catalog,
    language, zone, link template, policy descriptions, the mapping files (the
    reasons) and the topic tree."""
    h = hashlib.blake2b(digest_size=16)
    for path in sorted(TEMPLATES.glob("*.html")) + sorted(CATALOG_DIR.glob("reports.*.po")):
        h.update(path.read_bytes())
    for path in sorted(Path(settings.mappings_dir).glob("*.y*ml")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    h.update(
        repr(
            (
                settings.language,
                settings.timezone,
                settings.lapor_url_template,
                {name: p.description for name, p in policies.policies.items()},
                topics,
            )
        ).encode()
    )
    return h.hexdigest()


def _read_manifest(out_dir: Path, version: str) -> dict[str, str]:
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(manifest, dict) or manifest.get("version") != version:
        return {}
    pages = manifest.get("pages")
    return pages if isinstance(pages, dict) else {}


def _render(env: jinja2.Environment, name: str, **context: Any) -> str:
    return env.get_template(name).render(**context)


def _period_text(
    since: datetime | None, until: datetime | None, lang: str, zone: Any, t: Any
) -> str:
    if since is None and until is None:
        return t("everything stored")
    start = format_local_time(since, lang, zone) if since else "…"  # type: ignore[arg-type]
    end = format_local_time(until, lang, zone) if until else t("now")  # type: ignore[arg-type]
    return f"{start} – {end}"


def _ranking_chart(o: data.Overview, t: Any) -> Any:
    ranked = [r for r in o.ranking if r.total][:25]
    series = {
        f"{t(STATE_LABELS['BREACHED'])} {p}": [r.count(p, ClockState.BREACHED) for r in ranked]
        for p in o.policies
    }
    series.update(
        {
            f"{t(STATE_LABELS['MET_LATE'])} {p}": [r.count(p, ClockState.MET_LATE) for r in ranked]
            for p in o.policies
        }
    )
    return charts.horizontal_bars(
        t("Breaches per OPD"), [r.opd for r in ranked], series, stacked=True
    )


def _per_day_chart(o: data.Overview, lang: str, t: Any) -> Any:
    from babel.dates import format_date

    days = sorted(o.per_day)
    labels = [format_date(day, "d MMM", locale=lang) for day in days]
    series = {
        t(CHANNEL_LABELS.get(channel, channel)): [o.per_day[day][channel] for day in days]
        for channel in o.channels
    }
    return charts.stacked_columns(t("Reports per day"), labels, series)
