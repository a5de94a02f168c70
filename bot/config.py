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

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read ``DATABASE_URL``, ``HOST`` and ``PORT``."""
        env = dict(os.environ) if env is None else env
        return cls(
            database_url=database_url(env),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8080")),
        )
