"""Client-side rate limit: a thread-safe minimum interval between requests.

LAPOR! allows about 10 requests a second per token and answers 429 past it.
Spacing every request at least ``1 / rate`` seconds after the one before means
no ``rate + 1`` requests ever fall inside one second, so no 1-second window
holds more than ``rate`` of them. Unlike a token bucket it allows no burst, which
is what a server-side window counter wants.

The interval carries a 5 % margin (``(1 + margin) / rate``): requests leave the
client exactly spaced, but reach the server with some jitter, and a server
counting arrivals would otherwise now and then see ``rate + 1`` in one second.

The lock is held while sleeping, so threads queue and each one is released at
least one interval after the previous one (not merely scheduled that way).
Clock and sleep are injectable so tests run on a fake clock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """At most `rate_per_s` acquisitions in any 1-second window."""

    def __init__(
        self,
        rate_per_s: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        margin: float = 0.05,
    ) -> None:
        if not rate_per_s > 0:
            raise ValueError(f"rate_per_s must be > 0, got {rate_per_s!r}")
        if not 0 <= margin < 1:
            raise ValueError(f"margin must be in [0, 1), got {margin!r}")
        self.rate_per_s = float(rate_per_s)
        self.interval = (1.0 + margin) / self.rate_per_s
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_free: float | None = None

    def acquire(self) -> float:
        """Block until a request may go; return the clock time it was granted."""
        with self._lock:
            now = self._clock()
            if self._next_free is not None and now < self._next_free:
                self._sleep(self._next_free - now)
                # A real sleep may overshoot; a fake one may not move the clock.
                now = max(self._clock(), self._next_free)
            self._next_free = now + self.interval
            return now

    def __repr__(self) -> str:
        return f"RateLimiter(rate_per_s={self.rate_per_s})"
