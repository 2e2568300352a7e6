"""What a command needs to run: settings, the store, the upstream client.

Built once per process from the settings; each piece is made on first use so
a command that needs no upstream never asks for a token.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine

from lapor_bridge.config import Settings, load_settings
from lapor_bridge.store import open_store


@dataclass
class Runtime:
    settings: Settings = field(default_factory=load_settings)

    @cached_property
    def engine(self) -> Engine:
        return open_store(self.settings.database_url)

    def client(self):  # -> LaporClient (imported late: the client module is heavy-ish)
        from lapor_bridge.upstream.client import LaporClient, RequestRetryPolicy

        api_url, token, _ = self.settings.require_upstream()
        s = self.settings
        return LaporClient(
            api_url,
            token,
            timeout=(s.connect_timeout_s, s.read_timeout_s),
            retry=RequestRetryPolicy(
                max_attempts=s.max_attempts,
                max_elapsed_s=s.max_retry_elapsed_s,
                max_retry_after_s=s.max_retry_after_s,
            ),
            rate_limit_per_s=s.rate_limit_per_s,
        )

    @property
    def instansi_id(self) -> int:
        return self.settings.require_upstream()[2]
