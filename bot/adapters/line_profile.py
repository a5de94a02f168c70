"""A LINE user's display name, from the Messaging API's profile (``GET
/v2/bot/profile/{userId}``: ``{displayName, userId, pictureUrl?, language?}``).

Webhook events carry only the user's id, so the console would show staff an id. The LINE
adapter asks for the profile once a user has become a group's representative, and the store
keeps the name with their links (``Store.set_display_name``); nothing is asked or kept for
residents. The last names are remembered in memory, so linking to a second group does not
ask again.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections import OrderedDict

import aiohttp

log = logging.getLogger(__name__)

REMEMBERED = 1_000  # display names kept in memory


class ProfileNames:
    """Display names looked up on the Messaging API, the last :data:`REMEMBERED` kept."""

    def __init__(self) -> None:
        self._names: OrderedDict[str, str] = OrderedDict()

    async def get(
        self, session: aiohttp.ClientSession, api_base: str, user_id: str, proxy: str | None
    ) -> str | None:
        """The user's display name, or None when LINE does not give it (unfollowed, down)."""
        if user_id in self._names:
            self._names.move_to_end(user_id)
            return self._names[user_id]
        url = f"{api_base.rstrip('/')}/v2/bot/profile/{urllib.parse.quote(user_id, safe='')}"
        try:
            async with session.get(url, proxy=proxy) as response:
                if response.status != 200:
                    log.info("LINE profile not given (%s)", response.status)
                    return None
                profile = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            log.info("LINE profile not read", exc_info=True)
            return None
        name = profile.get("displayName") if isinstance(profile, dict) else None
        if not isinstance(name, str) or not name.strip():
            return None
        self._names[user_id] = name
        if len(self._names) > REMEMBERED:
            self._names.popitem(last=False)
        return name
