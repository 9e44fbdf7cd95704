"""The evaluation's own arithmetic and data reading: a wrong score would mislead every
decision about the model."""

from __future__ import annotations

import re

from pathlib import Path

from bot.training.metrics import accuracy, entity_scores, intent_scores, macro_f1
from bot.training.nludata import Span, parse_example, read_examples

ROOT = Path(__file__).resolve().parents[2]


def test_annotations_become_exact_spans() -> None:
    example = parse_example("[鑫达电子厂](employer)欠我[八千多块](amount)钱", "report_unpaid_wages")
    assert example.text == "鑫达电子厂欠我八千多块钱"
    assert example.entities == (Span(0, 5, "employer", "鑫达电子厂"), Span(7, 11, "amount", "八千多块"))
    assert parse_example('老家[豫]{"entity": "hometown", "value": "河南"}', "inform").entities[0].entity == "hometown"


def test_intent_scores_count_fallbacks_as_misses() -> None:
    gold = ["a", "a", "b", "b"]
    predicted = ["a", "nlu_fallback", "b", "a"]
    scores = intent_scores(gold, predicted)
    assert accuracy(gold, predicted) == 0.5
    assert (scores["a"].precision, scores["a"].recall) == (0.5, 0.5)
    assert (scores["b"].precision, scores["b"].recall, scores["b"].f1) == (1.0, 0.5, 0.6667)
    assert macro_f1(scores, ["a", "b"]) == round((0.5 + 0.6667) / 2, 4)


def test_entities_count_only_with_the_exact_span() -> None:
    gold = [{(0, 4, "amount")}, {(2, 5, "employer")}]
    predicted = [{(0, 3, "amount")}, {(2, 5, "employer"), (6, 8, "amount")}]
    scores = entity_scores(gold, predicted)
    assert scores["employer"].f1 == 1.0
    assert (scores["amount"].precision, scores["amount"].recall) == (0.0, 0.0)


def _same(text: str) -> str:
    """Messages that differ only in case, spaces or punctuation are the same message."""
    return re.sub(r"[\s，。,.!！?？~～、…:：;；\"'“”]+", "", text).lower()


def test_the_heldout_set_never_overlaps_the_training_data() -> None:
    train = {_same(e.text) for e in read_examples(ROOT / "nlu")}
    heldout = read_examples(ROOT / "tests" / "nlu" / "heldout.yml")
    assert len(heldout) >= 300
    assert not [e.text for e in heldout if _same(e.text) in train]
