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


def test_several_grievances_count_only_when_every_topic_is_found() -> None:
    from bot.training.metrics import same_label, several_grievances_recall, topics

    both = "report_unpaid_wages+report_social_insurance"
    assert topics(both) == {"report_unpaid_wages", "report_social_insurance"} and topics("greet") == set()
    assert same_label(both, "report_social_insurance+report_unpaid_wages")  # order does not matter
    assert not same_label(both, "report_unpaid_wages") and not same_label("greet", "affirm")
    gold = [both, both, "report_overtime+report_dismissal", "report_injury"]
    predicted = ["report_unpaid_wages", both, "report_overtime+report_dismissal+report_injury", "report_injury"]
    assert several_grievances_recall(gold, predicted) == (2, 3)  # a topic too many still found both


def test_a_confident_topic_for_an_out_of_scope_question_is_counted_and_a_fallback_is_not() -> None:
    from bot.training.metrics import confident_out_of_scope_errors

    gold = ["out_of_scope"] * 4 + ["report_injury"]
    predicted = ["report_injury", "report_overtime+report_dismissal", "nlu_fallback", "report_injury", "report_injury"]
    confidence = [0.95, 0.91, 0.99, 0.6, 0.99]
    assert confident_out_of_scope_errors(gold, predicted, confidence) == 2


def test_relaxed_spans_take_an_overlap_of_the_same_type_once() -> None:
    from bot.training.metrics import relaxed_entity_scores

    gold = [{(0, 4, "headcount")}, {(2, 5, "employer")}]
    # 我们十个人 vs 十个人: overlap counts; a second prediction on the same gold span is extra
    predicted = [{(2, 4, "headcount"), (3, 4, "headcount")}, {(2, 5, "location")}]
    scores = relaxed_entity_scores(gold, predicted)
    assert (scores["headcount"].precision, scores["headcount"].recall) == (0.5, 1.0)
    assert scores["employer"].recall == 0.0 and scores["location"].precision == 0.0
