"""A store seeded the honest way: the simulator over real HTTP and a real sync,
plus the cases a reader must see right: a RAHASIA report with a citizen's
reply, citizen text that looks like a formula, a follow-up that died because
LAPOR! transferred the report before it was pushed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from lapor_bridge.config import Settings
from lapor_bridge.mapping import load_mapping
from lapor_bridge.outbox.respond import TindakLanjutDraft, record_follow_up
from lapor_bridge.runtime import Runtime
from lapor_bridge.simulator import Simulator, SimulatorConfig
from lapor_bridge.sla import default_policies
from lapor_bridge.sync.engine import run_sync
from lapor_bridge.timeutil import WIB, utcnow
from tests.conftest import bridge_settings

REPO = Path(__file__).resolve().parents[2]
SECRET = "UNIK-RHS-7781"  # only in the RAHASIA report's title, content and reply
FORMULA = "=1+2 jalan rusak di Moga"
LINK_TEMPLATE = "https://lapor.example.test/laporan/{tracking_id}?dari=pemalang"


@dataclass
class Seeded:
    rt: Runtime
    now: datetime
    rahasia_id: int
    formula_id: int
    dead_id: int
    url: str

    def settings(self, **overrides: object) -> Settings:
        return self.rt.settings.model_copy(update=overrides)


def _wib(moment: datetime) -> datetime:
    return moment.astimezone(WIB).replace(tzinfo=None)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'bridge.db'}"
    with Simulator(SimulatorConfig(initial_reports=300)) as sim:
        start = utcnow()
        rahasia = sim.add_report(
            title=f"Rahasia {SECRET}",
            content=f"Isi laporan rahasia {SECRET} di Kecamatan Moga",
            privacy="RAHASIA",
            location={"kecamatan": "Moga", "desa": "Moga"},
            disposed_at=_wib(start - timedelta(hours=30)),
            created_at=_wib(start - timedelta(hours=31)),
            updated_at=_wib(start - timedelta(hours=29)),
            followups=[
                {
                    "author": "PELAPOR",
                    "status": "DIPROSES",
                    "content": f"balasan {SECRET}",
                    "created_at": _wib(start - timedelta(hours=29)),
                }
            ],
        )
        formula = sim.add_report(
            title=FORMULA,
            content="@SUM(A1) -2 +3 isi yang mirip rumus",
            privacy="PUBLIK",
            location={"kecamatan": "Moga", "desa": "Moga"},
            disposed_at=_wib(start - timedelta(hours=20)),
            created_at=_wib(start - timedelta(hours=21)),
            updated_at=_wib(start - timedelta(hours=19)),
        )
        doomed = sim.add_report(
            title="Lampu jalan mati",
            content="Lampu jalan mati sejak seminggu",
            privacy="PUBLIK",
            disposed_at=_wib(start - timedelta(hours=5)),
            created_at=_wib(start - timedelta(hours=6)),
            updated_at=_wib(start - timedelta(hours=5)),
        )
        settings = bridge_settings(
            sim, url, lapor_url_template=LINK_TEMPLATE, mappings_dir=REPO / "mappings"
        )
        rt = Runtime(settings)
        run_sync(rt, push=False)
        record_follow_up(
            rt.engine,
            TindakLanjutDraft(
                doomed["tracking_id"], "DIPROSES", "Sedang kami periksa", created_by="test"
            ),
            now=utcnow(),
            policies=default_policies(settings.mappings_dir),
            units=load_mapping(settings.mappings_dir).unit_names,
        )
        doomed_id = doomed["tracking_id"]
        sim.update_report(doomed_id, instansi_id=9999)
        run_sync(rt, push=True)
        yield Seeded(
            rt=rt,
            now=utcnow(),
            rahasia_id=rahasia["tracking_id"],
            formula_id=formula["tracking_id"],
            dead_id=doomed_id,
            url=url,
        )
        rt.engine.dispose()
