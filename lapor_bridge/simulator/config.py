"""Settings of the simulator: the fault switches and the seed configuration."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    """Trap switches. All off by default: a well-behaved server."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # A change becomes visible to listings up to this many seconds after it
    # happened (random per change, uniform in [0, lag]).
    visibility_lag_s: float = Field(0.0, ge=0)
    # The background generator emits its changes in bursts sharing one second.
    equal_timestamps: bool = False
    # A cursor older than this answers 410 Gone.
    cursor_ttl_s: float = Field(300.0, ge=0)
    # Token bucket per token refilling at this rate, holding 200 ms worth (at least 1
    # request); past it 429 with an integer Retry-After >= 1.
    rate_limit_per_s: float | None = Field(None, gt=0)
    # Probability that a request starts a burst of 5xx (500/502/503/504).
    error_rate: float = Field(0.0, ge=0, le=1)
    error_burst_len: int = Field(3, ge=1)
    # Probability that the connection is closed with no response, before anything is applied.
    drop_rate: float = Field(0.0, ge=0, le=1)
    # POST tindak-lanjut only: the follow-up IS stored, then the connection is dropped.
    drop_after_apply_rate: float = Field(0.0, ge=0, le=1)
    # Probability that a response is delayed by slow_s (after the request was applied).
    slow_rate: float = Field(0.0, ge=0, le=1)
    slow_s: float = Field(0.0, ge=0)
    # Probability that a generated report version is malformed in listings.
    malformed_rate: float = Field(0.0, ge=0, le=1)
    # Probability that a generated version makes its report render times with no offset (WIB).
    legacy_time_rate: float = Field(0.0, ge=0, le=1)
    # Among generated changes, the share that transfer a report away (DIALIHKAN).
    transfer_rate: float = Field(0.0, ge=0, le=1)
    # The server's clock runs this many seconds ahead of the host's (negative: behind):
    # every time it stamps (updated_at, follow-ups) and its `Date` header.
    clock_offset_s: float = 0.0
    # The listing ignores `updated_to` (lists records beyond the window asked for).
    ignore_updated_to: bool = False
    # Hostile listing answers, one switch each:
    null_records: bool = False  # a `null` among the records of every page
    bad_updated_at: bool = False  # the first record of every page has `updated_at` 1700000000
    # (a number), the second ["2026-01-01"] (a list)
    non_utf8: bool = False  # the first record's title holds bytes that are not UTF-8
    gzip_bomb: bool = False  # the answer is 1 MB of gzip that inflates to 1 GiB
    huge_title_bytes: int = Field(0, ge=0)  # the first record's title is this long
    oversized_page: int = Field(0, ge=0)  # a page holds this many records whatever its limit
    trickle_s: float = Field(0.0, ge=0)  # the answer is sent one byte every trickle_s seconds
    endless_cursors: bool = False  # a listing never ends: every page carries a new cursor


class SimulatorConfig(BaseModel):
    """What the simulator serves."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 1708
    instansi_id: int = 3327
    token: str = "sim-token"
    # Seeded reports disposed to the instansi, updated_at spread over the past 400 days.
    initial_reports: int = Field(300, ge=0)
    faults: Faults = Faults()
    # Background change generator while serving (0 = off).
    change_rate_per_s: float = Field(0.0, ge=0)
