"""Settings, read from the environment when the app is built (never at import)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from storage.db import database_url


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable. Platforms without their settings are simply off."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    sample_groups: bool = True  # fill an empty directory with the marked demo groups

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read ``DATABASE_URL``, ``HOST``, ``PORT`` and ``SAMPLE_GROUPS``."""
        env = dict(os.environ) if env is None else env
        return cls(
            database_url=database_url(env),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8080")),
            sample_groups=env.get("SAMPLE_GROUPS", "1").strip().lower()
            not in {"0", "false", "no"},
        )
