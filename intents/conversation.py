"""The conversation core: one inbound message in, one platform-neutral reply out.

The CLI and the web chat call :meth:`Conversation.handle`; LINE and Telegram call
:meth:`Conversation.handle_many` with the messages waiting (bot/adapters/lanes.py). Both check
the input, load the user's state from the database, route, run the handler and save the state.
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from intents import commands, faq, forms, groups, openings, recruit, search, smalltalk
from intents.fallback import FacilityDetailsRule, fallback, stale_choice
from intents.menu import menu_choices
from intents.router import FALLBACK, Match, Router, Rule
from intents.turn import Turn
from intents.types import MAX_CHOICES, Choice, Inbound, Reply
from knowledge.center import CenterDetails
from knowledge.faq import FaqIndex, load_entries
from knowledge.fields import FieldIndex
from knowledge.messages import Messages, load_yes_no
from knowledge.places import PlaceIndex
from knowledge.text import fold, language_of
from knowledge.when import today_in_tokyo
from storage import connection_died
from storage.models import utcnow
from storage.retention import DEFAULT_RETENTION_DAYS
from storage.store import AlreadyHandled, Store, TurnEnd, TurnStart, UserRef

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_AFTER = 0.05  # seconds before the one retry of a failed beginning or end of turns
MAX_INPUT = 2000  # characters; longer texts are pastes, not questions or descriptions
ROUTER_THRESHOLD = 0.20
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\ufeff]")
_CHOICE_NUMBER = re.compile(r"^\s*(\d{1,2})\s*$")
_FORM_CONTROLS = {"f:back", "f:quit", "f:skip"}
LANGUAGE_PAYLOADS = {"lang:en": "en", "lang:ja": "ja"}


KEEP_REPLIES_ON = ("line", "telegram")  # platforms answered from the inbox
KEPT_REPLIES = 3  # replies kept per user, for replay after a crash
SHOWN_AGAIN_ON = ("web",)  # the page shows the last reply again after a reload


def build_router() -> Router:
    """Compose the feature rules in one place (the order does not matter; scores do)."""
    rules: list[Rule] = [
        smalltalk.MenuPayloadRule(),
        smalltalk.SmallTalkRule(),
        faq.FaqPayloadRule(),
        faq.FeedbackRule(),
        faq.FaqRule(),
        commands.CommandRule(),
        commands.CommandPayloadRule(),
        FacilityDetailsRule(),
        groups.GroupPayloadRule(),
        search.SearchRule(),
        search.SearchPayloadRule(),
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
        center_contact: str = "",
        center: CenterDetails | None = None,
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        self.store = store
        self.faq = faq_index or FaqIndex(load_entries())
        self.messages = messages or Messages.load()
        self.router = router or build_router()
        self.fields = fields or FieldIndex.load()
        self.places = places or PlaceIndex.load()
        self._yes, self._no = load_yes_no()
        self._menu_labels = {
            fold(label): item.payload
            for item in self.messages.menu
            for label in item.labels.values()
            if fold(label)
        }
        self.clock = clock
        # The operator's center details (CENTER_FILE), with CENTER_CONTACT as their note.
        self.center = (center or CenterDetails()).with_note(center_contact)
        self.retention_days = retention_days

    def handle(self, inbound: Inbound) -> Reply:
        """Answer one message. Never raises for bad input; the reply says what was wrong.

        Raises:
            AlreadyHandled: ``inbound.event_id`` was handled before.
        """
        (result,) = self.handle_many([inbound])
        if isinstance(result, Exception):
            raise result
        return result

    def handle_many(self, inbounds: list[Inbound]) -> list[Reply | Exception]:
        """Answer several messages, in order, with one transaction to begin them all and one
        to end them (group commit: on SQLite a commit cost more than answering a question).

        One answer per message: its reply, or the exception it raised (AlreadyHandled for an
        event handled before). A user's second message in the list is answered after the
        first one's state is saved. A database failure at the beginning (tried twice) raises;
        one at the end is logged and the replies still go out, their state unsaved.
        """
        results: dict[int, Reply | Exception] = {}
        for group in _one_message_per_user(inbounds):
            prepared = [_Prepared.of(inbounds[i]) for i in group]
            starts = [
                # The stored language stands unless this message says another ("").
                TurnStart(m.platform, m.user_id, p.locale if p.said else "", m.event_id)
                for m, p in zip((inbounds[i] for i in group), prepared, strict=True)
            ]
            opened = _twice(partial(self.store.open_turns, starts))
            ending: list[tuple[int, TurnEnd]] = []
            for i, p, begun in zip(group, prepared, opened, strict=True):
                if isinstance(begun, AlreadyHandled):
                    results[i] = begun
                    continue
                try:
                    reply, end = self._answer_once_more_if_cut(inbounds[i], p, *begun)
                except Exception as exc:  # a bug in one handler must not take the others
                    results[i] = exc
                    self._release(inbounds[i])
                    continue
                results[i] = reply
                if end is not None:
                    ending.append((i, end))
            try:
                notices = _twice(partial(self.store.close_turns, [end for _, end in ending]))
            except Exception:
                # The answers stand (a sign-up in them is already committed): better the reply
                # without its state saved than no reply at all.
                log.exception("could not save the state of %d turns", len(ending))
                notices = [[] for _ in ending]
            for (i, _), bodies in zip(ending, notices, strict=True):
                answered = results[i]
                if isinstance(answered, Reply):
                    answered.notices.extend(str(json.loads(b).get("text", "")) for b in bodies)
        return [results[i] for i in range(len(inbounds))]

    def _answer_once_more_if_cut(
        self, inbound: Inbound, prepared: _Prepared, user: UserRef, state: dict[str, Any]
    ) -> tuple[Reply, TurnEnd | None]:
        """``_answer``; when the database connection died under it, once more on a new one,
        from the state as saved before this turn (the first try may have changed ``state``;
        the saved one is untouched until the turn's end)."""
        try:
            return self._answer(inbound, prepared, user, state)
        except Exception as exc:
            if not connection_died(exc):
                raise
            log.warning("the database connection died mid-turn; answering once more")
            saved = self.store.saved_state(inbound.platform, inbound.user_id) or {}
            return self._answer(inbound, prepared, user, saved)

    def replay(self, platform: str, user_id: str, event_id: str) -> Reply | None:
        """An event taken again after a crash found its id claimed: its turn had begun. If the
        turn also ended (its reply is among the user's last KEPT_REPLIES, saved with the state
        in the same commit), that reply, to send again instead of running the turn twice.

        If the turn did not end, the conversation is as it was before it (its state was not
        saved): the claim is released and None returned, so the caller runs the turn again.
        (What a handler committed meanwhile, a sign-up, is guarded by its own uniqueness.)"""
        state = self.store.saved_state(platform, user_id) or {}
        for kept_id, kept in state.get("replies", []):
            if kept_id == event_id:
                return Reply.from_kept(kept)
        self.store.release_event(platform, event_id)
        return None

    def last_reply(self, platform: str, user_id: str) -> Reply | None:
        """The last reply kept with the user's state (for the web chat, to show again after a
        reload with its buttons: a form waiting for a tap), or None."""
        replies = (self.store.saved_state(platform, user_id) or {}).get("replies") or []
        return Reply.from_kept(replies[-1][1]) if replies else None

    def _release(self, inbound: Inbound) -> None:
        """A turn that failed leaves its event id unclaimed: the inbox's retry, or the
        platform's redelivery, answers it (once)."""
        if inbound.event_id:
            try:
                self.store.release_event(inbound.platform, inbound.event_id)
            except Exception:
                log.exception("could not release event %s", inbound.event_id)

    def _answer(
        self, inbound: Inbound, prepared: _Prepared, user: UserRef, state: dict[str, Any]
    ) -> tuple[Reply, TurnEnd | None]:
        """Route and handle one message; what to save afterwards (None: nothing, 退会)."""
        text, payload = prepared.text, prepared.payload
        # The language stays put: a code, a URL or a name typed mid-form does not change it;
        # a clear sentence in the other language, or the language button, does.
        locale = prepared.locale if prepared.said or user.is_new else user.locale
        if payload is None and (number := _CHOICE_NUMBER.match(text)):
            # A text-only channel shows choices as [1] [2] …; typing the number taps it.
            choices = state.get("choices") or []
            index = int(number.group(1)) - 1
            # While a form asks for free text (a number of places, a day), a number is the
            # answer, not a tap: only form controls (戻る・やめる) are on screen then.
            answers_expected = all(c[1] in _FORM_CONTROLS for c in choices)
            if 0 <= index < len(choices) and not answers_expected:
                payload, text = choices[index][1], ""
        if payload is None and text:
            payload, text = self._typed_tap(text, state)
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
            center=self.center,
            retention_days=self.retention_days,
            # A question the last reply asked is answered now or never: handlers that ask
            # again set it again.
            awaiting=state.pop("awaiting", None),
        )
        reply = self._reply(turn)
        if state.pop("deleted", False):
            return reply, None  # 退会: nothing of this user is kept, not even the state
        state["choices"] = [[c.label, c.payload] for c in reply.buttons()]
        if inbound.event_id and inbound.platform in KEEP_REPLIES_ON:
            # Kept with the state (one commit): see ``replay``.
            recent = [r for r in state.get("replies", []) if r[0] != inbound.event_id]
            state["replies"] = [*recent, [inbound.event_id, reply.kept()]][-KEPT_REPLIES:]
        elif inbound.platform in SHOWN_AGAIN_ON:
            state["replies"] = [["", reply.kept()]]  # see ``last_reply``
        state["last_intent"] = reply.intent
        last_faq = state.get("last_faq")
        if reply.intent not in ("faq", "faq_feedback") and isinstance(last_faq, dict):
            last_faq["age"] = int(last_faq.get("age", 0)) + 1  # follow-ups expire
        pull = inbound.platform in openings.PULL_PLATFORMS
        keys = ["messages", f"intent:{reply.intent}"]
        if reply.intent == "faq" and "faq_id" in reply.slots:
            keys.append(f"faq:{reply.slots['faq_id']}")
        counters = (today_in_tokyo(turn.now), keys)  # for the dashboard; no user ids
        return reply, TurnEnd(user.id, state, pull, turn.now, counters, locale)

    def _typed_tap(self, text: str, state: dict[str, Any]) -> tuple[str | None, str]:
        """A button's label typed (「やめておく」), or a yes / no typed to a two-button
        question (「はい」 to 「キャンセルしますか？」): the same as the tap."""
        folded = fold(text)
        confirm = state.get("awaiting")
        if isinstance(confirm, str) and confirm.startswith("confirm:"):
            yes, _, no = confirm.removeprefix("confirm:").partition("|")
            if folded in self._yes:
                return yes, ""
            if folded in self._no and no:
                return no, ""
        for label, payload in state.get("choices") or []:
            if folded and fold(str(label)) == folded and not str(payload).startswith("f:"):
                return str(payload), ""
        # The main menu's labels (on the rich menu and in every help) do what the menu does,
        # whatever the last reply showed: 「ボランティアをさがす」 after an FAQ answer is not a
        # question about volunteering.
        menu_payload = self._menu_labels.get(folded)
        if menu_payload:
            return menu_payload, ""
        return None, text

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
        return _way_back_to_the_form(turn, match.handler(turn, match))

    def _cannot_read(self, turn: Turn, reason: str, **values: object) -> Reply:
        return Reply(
            turn.say(reason, **values),
            FALLBACK,
            choices=menu_choices(turn),
            slots={"reason": reason},
            locale=turn.locale,
        )


@dataclass(frozen=True, slots=True)
class _Prepared:
    """A message's text and payload cleaned, and the language to answer in."""

    text: str
    payload: str | None
    locale: str  # the platform's, or the message's own when it is clearly one language
    said: bool  # the message itself says the language (not just the platform's setting)

    @classmethod
    def of(cls, inbound: Inbound) -> _Prepared:
        text = _CONTROL.sub("", unicodedata.normalize("NFC", inbound.text or "")).strip()
        payload = (inbound.payload or "").strip() or None
        said = language_of(text) if text else None
        if payload in LANGUAGE_PAYLOADS:
            said = LANGUAGE_PAYLOADS[payload]  # the user's own choice
        return cls(text, payload, said or Messages.language(inbound.locale), said is not None)


def _way_back_to_the_form(turn: Turn, reply: Reply) -> Reply:
    """A reply to something else (a question, a search) while a form still waits gets
    「入力にもどる」 first, which asks the waiting question again; the form's own replies,
    which carry its buttons, and the commands' (which add it) are left as they are."""
    if forms.active(turn) is None:
        return reply
    if any(c.payload.startswith(forms.FORM_PAYLOAD_PREFIX) for c in reply.buttons()):
        return reply
    resume = Choice(turn.messages.label("form_resume", turn.locale), forms.RESUME_PAYLOAD)
    reply.choices = [resume, *reply.choices][:MAX_CHOICES]
    return reply


def _one_message_per_user(inbounds: list[Inbound]) -> list[list[int]]:
    """Indexes in order, in groups where no user appears twice (a user's next message must
    see the state their last one saved)."""
    groups: list[list[int]] = []
    seen: list[set[tuple[str, str]]] = []
    for i, inbound in enumerate(inbounds):
        key = (inbound.platform, inbound.user_id)
        # After the last group that has this user (order per user is kept).
        after = max((n for n, users in enumerate(seen) if key in users), default=-1)
        if after + 1 == len(groups):
            groups.append([])
            seen.append(set())
        groups[after + 1].append(i)
        seen[after + 1].add(key)
    return groups


def _twice(work: Callable[[], T]) -> T:
    """Run ``work``; after a failure (a deadlock, a dropped connection) once more."""
    try:
        return work()
    except Exception:
        log.warning("database hiccup; trying once more", exc_info=True)
        time.sleep(RETRY_AFTER)
        return work()
