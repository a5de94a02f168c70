"""Routing accuracy on realistic utterances written apart from the FAQ's own phrasings.

``faq_devset.tsv`` is the development set (the matcher is tuned on it); ``faq_heldout.tsv`` was
written separately and never used for tuning: its figure is the honest one.
"""

from __future__ import annotations

from intents.conversation import Conversation
from knowledge.faq import FaqIndex
from tests.helpers import OTHER_INTENTS, SMALLTALK, evaluate, load_utterances


def _check_labels(faq_index: FaqIndex, name: str) -> None:
    ids = {e.id for e in faq_index.entries} | SMALLTALK | OTHER_INTENTS | {"fallback"}
    unknown = {u.expected for u in load_utterances(name)} - ids
    assert unknown == set()


def test_sets_are_labelled_with_real_ids(faq_index: FaqIndex) -> None:
    _check_labels(faq_index, "faq_devset.tsv")
    _check_labels(faq_index, "faq_heldout.tsv")
    assert len(load_utterances("faq_devset.tsv")) >= 250


def test_devset_accuracy(conversation: Conversation) -> None:
    result = evaluate(conversation, load_utterances("faq_devset.tsv"))
    print("\n[dev set] " + result.report())
    assert result.false_answers == [], "an off-topic question got a confident FAQ answer"
    assert result.accuracy >= 0.95


def test_heldout_accuracy(conversation: Conversation) -> None:
    result = evaluate(conversation, load_utterances("faq_heldout.tsv"))
    print("\n[held-out] " + result.report())
    # The held-out set is not tuned on; the floor guards against regressions only.
    assert result.accuracy >= 0.80
    assert len(result.false_answers or []) <= 1
