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
        """Raise TooManyRequestsError when an attempt by ``name`` from ``ip`` must wait; else
        count the attempt as failed at once (in the same lock: attempts made at the same
        moment cannot all pass), until :meth:`succeeded` takes it back."""
        now = time.monotonic()
        with self._lock:
            keys = self.keys(name, ip)
            for kind, key in keys.items():
                recent = self._recent(key, now)
                if len(recent) >= self.limits[kind]:
                    wait = int(self.window_s - (now - recent[0])) + 1
                    minutes = max(1, round(wait / 60))
                    raise TooManyRequestsError(
                        f"Too many wrong passwords: wait {minutes} min, then try again.",
                        retry_after=wait,
                    )
            for key in keys.values():
                self._recent(key, now).append(now)

    def failed(self, name: str, ip: str) -> None:
        """Keep the attempt :meth:`check` counted (it failed); bound the memory under a flood."""
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures = {k: v for k, v in self._failures.items() if v}

    def succeeded(self, name: str, ip: str) -> None:
        """Forget the failures of this name from this address; take this attempt back from
        the other counts."""
        with self._lock:
            keys = self.keys(name, ip)
            self._failures.pop(keys["name+ip"], None)
            for kind in ("ip", "name"):
                found = self._failures.get(keys[kind])
                if found:
                    found.pop()
