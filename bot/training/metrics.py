"""Scoring predictions the way nlu.md judges the model: intent accuracy, per-intent
precision/recall/F1, macro-F1 over the topic intents, exact-span entity F1."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The intents of the contract table (what the model is judged on); `inform` is not a topic.
CONTRACT_INTENTS = (
    "report_unpaid_wages", "report_overtime", "report_injury", "report_dismissal",
    "report_social_insurance", "ask_matchmaking_events", "join_union", "check_case_status",
    "request_human", "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "out_of_scope",
)
DISPUTE_INTENTS = CONTRACT_INTENTS[:5]
JUDGED_ENTITIES = ("amount", "employer", "headcount", "hometown")


@dataclass(frozen=True)
class PRF:
    precision: float
    recall: float
    f1: float
    support: int


def _prf(tp: int, fp: int, fn: int) -> PRF:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PRF(round(precision, 4), round(recall, 4), round(f1, 4), tp + fn)


def intent_scores(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, PRF]:
    """Per-intent scores; a fallback prediction (``nlu_fallback``) is a miss for the gold intent."""
    labels = sorted(set(gold))
    return {
        label: _prf(
            sum(g == label and p == label for g, p in zip(gold, predicted)),
            sum(g != label and p == label for g, p in zip(gold, predicted)),
            sum(g == label and p != label for g, p in zip(gold, predicted)),
        )
        for label in labels
    }


def accuracy(gold: Sequence[str], predicted: Sequence[str]) -> float:
    return round(sum(g == p for g, p in zip(gold, predicted)) / len(gold), 4) if gold else 0.0


def macro_f1(scores: dict[str, PRF], labels: Iterable[str]) -> float:
    values = [scores[label].f1 for label in labels if label in scores]
    return round(sum(values) / len(values), 4) if values else 0.0


def entity_scores(
    gold: Sequence[Iterable[tuple[int, int, str]]], predicted: Sequence[Iterable[tuple[int, int, str]]]
) -> dict[str, PRF]:
    """Exact-span F1 per entity type: a prediction counts only with the same start, end and type."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for g, p in zip(gold, predicted):
        gold_set, pred_set = set(g), set(p)
        for _, _, entity in gold_set & pred_set:
            tp[entity] += 1
        for _, _, entity in pred_set - gold_set:
            fp[entity] += 1
        for _, _, entity in gold_set - pred_set:
            fn[entity] += 1
    return {e: _prf(tp[e], fp[e], fn[e]) for e in sorted(set(tp) | set(fp) | set(fn))}
