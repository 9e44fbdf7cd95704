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


def topics(intent: str) -> frozenset[str]:
    """The dispute topics a (multi-)intent names: ``report_unpaid_wages+report_social_insurance``
    → both; any other intent → none."""
    return frozenset(part for part in intent.split("+") if part in DISPUTE_INTENTS)


def same_label(gold: str, predicted: str) -> bool:
    """A prediction is right when it names the same intent, or for several grievances the same
    set of topics (the order of a multi-intent's parts does not matter)."""
    if "+" in gold or "+" in predicted:
        return topics(gold) == topics(predicted) and bool(topics(gold))
    return gold == predicted


def several_grievances_recall(gold: Sequence[str], predicted: Sequence[str]) -> tuple[int, int]:
    """(messages with several topics where every topic was found, such messages)."""
    pairs = [(topics(g), topics(p)) for g, p in zip(gold, predicted) if len(topics(g)) > 1]
    return sum(g <= p for g, p in pairs), len(pairs)


def confident_out_of_scope_errors(
    gold: Sequence[str], predicted: Sequence[str], confidence: Sequence[float], threshold: float = 0.9
) -> int:
    """Out-of-scope messages taken as a dispute topic with at least ``threshold`` confidence:
    the worker is walked into an intake form with no fallback to stop it."""
    return sum(g == "out_of_scope" and bool(topics(p)) and c >= threshold
               for g, p, c in zip(gold, predicted, confidence))


def relaxed_entity_scores(
    gold: Sequence[Iterable[tuple[int, int, str]]], predicted: Sequence[Iterable[tuple[int, int, str]]]
) -> dict[str, PRF]:
    """F1 per entity type where a prediction counts when it overlaps a gold span of the same
    type (each gold span matched at most once): how independent checks score spans, since
    authors differ on whether 我们 or 块 belong to a span."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for g, p in zip(gold, predicted):
        unmatched = sorted(set(g))
        for start, end, entity in sorted(set(p)):
            hit = next((s for s in unmatched if s[2] == entity and s[0] < end and start < s[1]), None)
            if hit is None:
                fp[entity] += 1
            else:
                tp[entity] += 1
                unmatched.remove(hit)
        for _, _, entity in unmatched:
            fn[entity] += 1
    return {e: _prf(tp[e], fp[e], fn[e]) for e in sorted(set(tp) | set(fp) | set(fn))}
