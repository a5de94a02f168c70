"""The conversation core: one inbound message in, one platform-neutral reply out.

Every adapter (CLI, web chat, LINE, Telegram) calls :meth:`Conversation.handle`. It checks the
input, loads the user's state from the database, routes, runs the handler and saves the state.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable
from datetime import datetime

from intents import faq, forms, groups, openings, recruit, smalltalk
from intents.fallback import FacilityDetailsRule, fallback, stale_choice
from intents.menu import menu_choices
from intents.router import FALLBACK, Match, Router, Rule
from intents.turn import Turn
from intents.types import Inbound, Reply
from knowledge.faq import FaqIndex, load_entries
from knowledge.fields import FieldIndex
from knowledge.messages import Messages
from knowledge.places import PlaceIndex
from knowledge.text import fold, is_mostly_latin
from knowledge.when import today_in_tokyo
from storage.models import utcnow
from storage.store import Store

MAX_INPUT = 2000  # characters; longer texts are pastes, not questions or descriptions
ROUTER_THRESHOLD = 0.20
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_CHOICE_NUMBER = re.compile(r"^\s*(\d{1,2})\s*$")
_FORM_CONTROLS = {"f:back", "f:quit", "f:skip"}


def build_router() -> Router:
    """Compose the feature rules in one place (the order does not matter; scores do)."""
    rules: list[Rule] = [
        smalltalk.MenuPayloadRule(),
        smalltalk.SmallTalkRule(),
        faq.FaqPayloadRule(),
        faq.FeedbackRule(),
        faq.FaqRule(),
        FacilityDetailsRule(),
        groups.GroupPayloadRule(),
        groups.FindGroupsRule(),
        groups.GroupSlotAnswerRule(),
        forms.FormRule(),
        recruit.RecruitRule(),
        openings.OpeningsRule(),
    ]
    return Router(rules, fallback=fallback, threshold=ROUTER_THRESHOLD)


class Conversation:
    """Turns an :class:`Inbound` into a :class:`Reply`. Safe to share between threads."""

    def __init__(
        self,
        store: Store,
        faq_index: FaqIndex | None = None,
        messages: Messages | None = None,
        router: Router | None = None,
        fields: FieldIndex | None = None,
        places: PlaceIndex | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.faq = faq_index or FaqIndex(load_entries())
        self.messages = messages or Messages.load()
        self.router = router or build_router()
        self.fields = fields or FieldIndex.load()
        self.places = places or PlaceIndex.load()
        self.clock = clock

    def handle(self, inbound: Inbound) -> Reply:
        """Answer one message. Never raises for bad input; the reply says what was wrong.

        Raises:
            AlreadyHandled: ``inbound.event_id`` was handled before.
        """
        text = _CONTROL.sub("", unicodedata.normalize("NFC", inbound.text or "")).strip()
        payload = (inbound.payload or "").strip() or None
        locale = Messages.language(inbound.locale)
        if text and is_mostly_latin(text):
            locale = "en"  # an English question gets an English answer
        user, state = self.store.open_turn(
            inbound.platform, inbound.user_id, locale, event_id=inbound.event_id
        )
        if payload is None and (number := _CHOICE_NUMBER.match(text)):
            # A text-only channel shows choices as [1] [2] …; typing the number taps it.
            choices = state.get("choices") or []
            index = int(number.group(1)) - 1
            # While a form asks for free text (a number of places, a day), a number is the
            # answer, not a tap: only form controls (戻る・やめる) are on screen then.
            answers_expected = all(c[1] in _FORM_CONTROLS for c in choices)
            if 0 <= index < len(choices) and not answers_expected:
                payload, text = choices[index][1], ""
        turn = Turn(
            inbound=inbound,
            user=user,
            locale=locale,
            text=text,
            folded=fold(text) if text else "",
            payload=payload,
            state=state,
            store=self.store,
            faq=self.faq,
            messages=self.messages,
            fields=self.fields,
            places=self.places,
            now=self.clock(),
            # A question the last reply asked is answered now or never: handlers that ask
            # again set it again.
            awaiting=state.pop("awaiting", None),
        )
        reply = self._reply(turn)
        if state.pop("deleted", False):
            return reply  # 退会: nothing of this user is kept, not even the state
        state["choices"] = [[c.label, c.payload] for c in reply.buttons()]
        state["last_intent"] = reply.intent
        pull = inbound.platform in openings.PULL_PLATFORMS
        keys = ["messages", f"intent:{reply.intent}"]
        if reply.intent == "faq" and "faq_id" in reply.slots:
            keys.append(f"faq:{reply.slots['faq_id']}")
        counters = (today_in_tokyo(turn.now), keys)  # for the dashboard; no user ids
        notices = self.store.close_turn(
            user.id, state, pull_notices=pull, now=turn.now, counters=counters, locale=locale
        )
        for body in notices:
            reply.notices.append(str(json.loads(body).get("text", "")))
        return reply

    def _reply(self, turn: Turn) -> Reply:
        if turn.payload is None:
            # Nothing to route: intent "fallback" (we did not understand), with the reason.
            if not turn.text:
                return self._cannot_read(turn, "empty")
            if len(turn.text) > MAX_INPUT:
                return self._cannot_read(turn, "too_long", limit=MAX_INPUT)
            if not turn.folded:
                return self._cannot_read(turn, "unreadable")
        match = self.router.route(turn)
        if turn.payload is not None and match.intent == FALLBACK and "reason" not in match.slots:
            match = Match("stale_choice", 1.0, stale_choice)  # a button we no longer know
        return match.handler(turn, match)

    def _cannot_read(self, turn: Turn, reason: str, **values: object) -> Reply:
        return Reply(
            turn.say(reason, **values),
            FALLBACK,
            choices=menu_choices(turn),
            slots={"reason": reason},
            locale=turn.locale,
        )
