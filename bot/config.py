"""Settings, read from the environment when the app is built (never at import)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from knowledge.center import CenterDetails, load_center
from storage.db import database_url
from storage.retention import DEFAULT_RETENTION_DAYS


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable. Platforms without their settings are simply off."""

    database_url: str
    host: str = "127.0.0.1"
    port: int = 8080
    sample_groups: bool = True  # fill an empty directory with the marked demo groups
    # A fixed "now" for demonstrations and tests (TSUNAGARU_NOW, ISO 8601 with offset).
    fixed_now: datetime | None = None
    public_url: str = ""
    # How residents reach the 市民活動センター (address, phone, hours, a link), as the operator
    # writes it; the bot never invents one (CENTER_CONTACT, free text, and CENTER_FILE, a TOML
    # file like center.example.toml: sites, web page, the ordinance's and guideline's URLs).
    center_contact: str = ""
    center_file: str = ""
    line_channel_secret: str = ""
    line_channel_access_token: str = ""
    line_api_base_url: str = "https://api.line.me"
    telegram_bot_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_base_url: str = "https://api.telegram.org"
    # One log line per HTTP request. Off by default: a PaaS router logs requests already, and
    # at webhook rates the lines cost more than the answers.
    access_log: bool = False
    # Behind a reverse proxy we run (TRUSTED_PROXY=1): believe its X-Forwarded-Proto and the
    # address it appends to X-Forwarded-For. Never without it: a client can send both.
    trusted_proxy: bool = False
    # Days the worker keeps delivered notices, webhook events, idle conversations and
    # unanswered questions before deleting them (RETENTION_DAYS; storage/retention.py).
    retention_days: int = DEFAULT_RETENTION_DAYS

    @property
    def line_enabled(self) -> bool:
        return bool(self.line_channel_secret and self.line_channel_access_token)

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_webhook_secret)

    def center(self) -> CenterDetails:
        """The center's details: CENTER_FILE read (a wrong file stops the start with the
        reason), with CENTER_CONTACT as their note; all empty when neither is set."""
        details = load_center(Path(self.center_file)) if self.center_file else CenterDetails()
        return details.with_note(self.center_contact)

    def clock(self) -> Callable[[], datetime] | None:
        """The clock to use, when time is fixed; None means the real one."""
        fixed = self.fixed_now
        return None if fixed is None else (lambda: fixed)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Read the environment (every variable is listed in the README)."""
        env = dict(os.environ) if env is None else env
        return cls(
            database_url=database_url(env),
            host=env.get("HOST", "127.0.0.1"),
            port=int(env.get("PORT", "8080")),
            sample_groups=_flag(env.get("SAMPLE_GROUPS", "1")),
            fixed_now=_fixed_now(env.get("TSUNAGARU_NOW", "")),
            public_url=env.get("PUBLIC_URL", ""),
            center_contact=env.get("CENTER_CONTACT", "").strip(),
            center_file=env.get("CENTER_FILE", "").strip(),
            line_channel_secret=env.get("LINE_CHANNEL_SECRET", ""),
            line_channel_access_token=env.get("LINE_CHANNEL_ACCESS_TOKEN", ""),
            line_api_base_url=env.get("LINE_API_BASE_URL") or "https://api.line.me",
            telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN", ""),
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", ""),
            telegram_api_base_url=env.get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org",
            access_log=_flag(env.get("ACCESS_LOG", "0")),
            trusted_proxy=_flag(env.get("TRUSTED_PROXY", "0")),
            retention_days=max(1, int(env.get("RETENTION_DAYS") or DEFAULT_RETENTION_DAYS)),
        )


def _flag(text: str) -> bool:
    return text.strip().lower() not in {"", "0", "false", "no", "off"}


def _fixed_now(text: str) -> datetime | None:
    if not text.strip():
        return None
    moment = datetime.fromisoformat(text.strip())
    if moment.tzinfo is None:
        raise ValueError("TSUNAGARU_NOW needs an offset, e.g. 2026-12-04T19:00+09:00")
    return moment
