"""Sign-in attempts, rate-limited: too many wrong passwords wait before the next try.

Failures are counted in a sliding window per account name and address, per address and per
account name (in this server's memory: a restart forgets them). A successful sign-in clears
the count of its name and address. Flask-free.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from gridmap.errors import TooManyRequestsError

#: (kind of key, failures allowed in the window).
LIMITS = {"name+ip": 5, "ip": 30, "name": 20}
#: The window, in seconds.
WINDOW_S = 15 * 60


class LoginThrottle:
    """Count failed sign-ins and refuse attempts over :data:`LIMITS` within :data:`WINDOW_S`."""

    def __init__(self, limits: dict[str, int] | None = None, window_s: float = WINDOW_S) -> None:
        self.limits = dict(limits or LIMITS)
        self.window_s = window_s
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def keys(name: str, ip: str) -> dict[str, tuple[str, str]]:
        """Return the keys an attempt counts against."""
        who = name.strip().lower()
        return {"name+ip": ("name+ip", f"{who}|{ip}"), "ip": ("ip", ip), "name": ("name", who)}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        found = self._failures.setdefault(key, deque())
        while found and now - found[0] > self.window_s:
            found.popleft()
        return found

    def check(self, name: str, ip: str) -> None:
        """Raise TooManyRequestsError when an attempt by ``name`` from ``ip`` must wait."""
        now = time.monotonic()
        with self._lock:
            for kind, key in self.keys(name, ip).items():
                recent = self._recent(key, now)
                if len(recent) >= self.limits[kind]:
                    wait = int(self.window_s - (now - recent[0])) + 1
                    minutes = max(1, round(wait / 60))
                    raise TooManyRequestsError(
                        f"Too many wrong passwords: wait {minutes} min, then try again.",
                        retry_after=wait,
                    )

    def failed(self, name: str, ip: str) -> None:
        """Count a failed attempt."""
        now = time.monotonic()
        with self._lock:
            for key in self.keys(name, ip).values():
                self._recent(key, now).append(now)
            if len(self._failures) > 100_000:  # bounded memory under a flood
                self._failures = {k: v for k, v in self._failures.items() if v}

    def succeeded(self, name: str, ip: str) -> None:
        """Forget the failures of this name from this address."""
        with self._lock:
            self._failures.pop(self.keys(name, ip)["name+ip"], None)
