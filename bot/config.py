"""Settings, read from the environment when the app is built (never at import)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from storage.db import database_url


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable. Platforms without their settings are simply off."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    sample_groups: bool = True  # fill an empty directory with the marked demo groups
    # A fixed "now" for demonstrations and tests (TSUNAGARU_NOW, ISO 8601 with offset).
    fixed_now: datetime | None = None

    def clock(self) -> Callable[[], datetime] | None:
        """The clock to use, when time is fixed; None means the real one."""
        fixed = self.fixed_now
        return None if fixed is None else (lambda: fixed)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read ``DATABASE_URL``, ``HOST``, ``PORT``, ``SAMPLE_GROUPS``, ``TSUNAGARU_NOW``."""
        env = dict(os.environ) if env is None else env
        return cls(
            database_url=database_url(env),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8080")),
            sample_groups=env.get("SAMPLE_GROUPS", "1").strip().lower()
            not in {"0", "false", "no"},
            fixed_now=_fixed_now(env.get("TSUNAGARU_NOW", "")),
        )


def _fixed_now(text: str) -> datetime | None:
    if not text.strip():
        return None
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError("TSUNAGARU_NOW needs an offset, e.g. 2026-12-04T19:00+09:00")
    return moment
