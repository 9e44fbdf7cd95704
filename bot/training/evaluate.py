"""`python -m bot eval`: how well the model understands messages it never saw.

1. Train an NLU model on ``nlu/`` (cached by the hash of the data and config).
2. Score the held-out set ``tests/nlu/heldout.yml`` (written apart from the training data,
   never trained on) with ``rasa test nlu``: per-intent report, confusion matrix PNG,
   misclassified messages.
3. Optionally 5-fold cross-validation on the training data (``rasa test nlu --cross-validation``).
4. Score a TF-IDF + logistic-regression baseline on the same split.
5. Score the sealed set ``tests/nlu/sealed/`` (about 670 messages by six separate authors,
   each with a persona, who never saw ``nlu/`` or the held-out set) — once per training-data
   change: the figures go to ``tests/nlu/sealed/scores.jsonl`` with the training hash, and a
   hash already scored is not scored again (``--rescore-sealed`` to force, recorded as such).
   Only figures are reported for it, never its messages, so nobody tunes against it.
6. Write ``var/reports/<time>/report.md`` and ``summary.json`` with the figures nlu.md judges:
   accuracy, topic macro-F1, per-intent F1, entity F1 (exact and overlapping spans),
   out-of-scope recall and confident out-of-scope errors, several-grievance recall — DIET
   beside the baseline.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.training.baseline import baseline_predictions
from bot.training.metrics import (
    CONTRACT_INTENTS, DISPUTE_INTENTS, JUDGED_ENTITIES, accuracy, confident_out_of_scope_errors, entity_scores,
    intent_scores, macro_f1, relaxed_entity_scores, same_label, several_grievances_recall, topics,
)
from bot.training.models import TrainingError, cache_dir, training_hash
from bot.training.nludata import Example, read_examples

HELDOUT = Path("tests/nlu/heldout.yml")
SEALED = Path("tests/nlu/sealed")
LEDGER = SEALED / "scores.jsonl"
TARGETS = {"accuracy": 0.93, "macro_f1": 0.92, "min_intent_f1": 0.85, "entity_f1": 0.85}


def _rasa(root: Path, rasa_bin: Path, args: list[str], log: Path) -> None:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
           "RASA_TELEMETRY_ENABLED": "false"}
    with log.open("ab") as handle:
        result = subprocess.run([str(rasa_bin), *args], cwd=root, stdout=handle, stderr=subprocess.STDOUT, env=env)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        raise TrainingError(f"rasa {args[0]} {args[1] if len(args) > 1 else ''} failed; see {log}:\n{tail}")


def nlu_model(root: Path, rasa_bin: Path, log: Path) -> Path:
    """An NLU-only model of the current data and config, trained once per hash."""
    name = f"nlu-{training_hash(root)[:16]}"
    target = root / "models" / "nlu" / f"{name}.tar.gz"
    cached = cache_dir() / "nlu" / target.name
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if cached.exists():
        target.write_bytes(cached.read_bytes())
        return target
    _rasa(root, rasa_bin, ["train", "nlu", "--nlu", "nlu", "--config", "config.yml", "--domain", "domain.yml",
                           "--out", str(target.parent), "--fixed-model-name", name], log)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(target.read_bytes())
    return target


def _load(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else []


def diet_predictions(out: Path, examples: list[Example]) -> tuple[list[str], list[set[tuple[int, int, str]]]]:
    """Per held-out message: predicted intent and entity spans, from rasa's own output files."""
    intents, spans, _ = diet_predictions_with_confidence(out, examples)
    return intents, spans


def diet_predictions_with_confidence(
    out: Path, examples: list[Example]
) -> tuple[list[str], list[set[tuple[int, int, str]]], list[float]]:
    """Per message: predicted intent, entity spans and the intent's confidence."""
    intents: dict[str, str] = {}
    confidence: dict[str, float] = {}
    for row in _load(out / "intent_successes.json") + _load(out / "intent_errors.json"):
        prediction = row.get("intent_prediction") or {}
        intents[row["text"]] = prediction.get("name") or "None"
        confidence[row["text"]] = float(prediction.get("confidence") or 0.0)
    entities: dict[str, set[tuple[int, int, str]]] = {}
    for row in _load(out / "DIETClassifier_successes.json") + _load(out / "DIETClassifier_errors.json"):
        entities[row["text"]] = {(e["start"], e["end"], e["entity"]) for e in row.get("predicted_entities", [])}
    # rasa writes entity rows only for messages with gold or predicted entities: none is none
    return ([intents.get(e.text, "None") for e in examples], [entities.get(e.text, set()) for e in examples],
            [confidence.get(e.text, 0.0) for e in examples])


def score(examples: list[Example], intents: list[str], spans: list[set[tuple[int, int, str]]] | None) -> dict[str, Any]:
    gold = [e.intent for e in examples]
    judged = [(g, p) for g, p in zip(gold, intents) if g in CONTRACT_INTENTS]
    g_j, p_j = [g for g, _ in judged], [p for _, p in judged]
    per_intent = intent_scores(g_j, p_j)
    result: dict[str, Any] = {
        "messages": len(judged),
        "accuracy": accuracy(g_j, p_j),
        "macro_f1": macro_f1(per_intent, CONTRACT_INTENTS),
        "dispute_macro_f1": macro_f1(per_intent, DISPUTE_INTENTS),
        "min_intent_f1": min(per_intent[i].f1 for i in CONTRACT_INTENTS if i in per_intent),
        "per_intent": {k: asdict(v) for k, v in per_intent.items()},
    }
    if spans is not None:
        ents = entity_scores([{(s.start, s.end, s.entity) for s in e.entities} for e in examples], spans)
        result["entities"] = {k: asdict(v) for k, v in ents.items()}
        result["judged_entity_f1"] = {k: ents[k].f1 if k in ents else 0.0 for k in JUDGED_ENTITIES}
    return result


def _topic_macro_f1(gold: list[str], predicted: list[str]) -> tuple[float, dict[str, float]]:
    """Per dispute topic, F1 over messages that name it (a message with several grievances
    names each): what matters is that every topic a worker raised is heard."""
    per_topic: dict[str, float] = {}
    for topic in DISPUTE_INTENTS:
        tp = sum(topic in topics(g) and topic in topics(p) for g, p in zip(gold, predicted))
        fp = sum(topic not in topics(g) and topic in topics(p) for g, p in zip(gold, predicted))
        fn = sum(topic in topics(g) and topic not in topics(p) for g, p in zip(gold, predicted))
        per_topic[topic] = round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0
    return round(sum(per_topic.values()) / len(per_topic), 4), per_topic


def score_sealed(examples: list[Example], intents: list[str], confidence: list[float] | None,
                 spans: list[set[tuple[int, int, str]]] | None) -> dict[str, Any]:
    """The figures of the sealed set (no message texts: it must never be tuned against)."""
    judged = [(e, p, c) for e, p, c in zip(examples, intents, confidence or [1.0] * len(intents))
              if e.intent in CONTRACT_INTENTS or len(topics(e.intent)) > 1]
    gold = [e.intent for e, _, _ in judged]
    predicted = [p for _, p, _ in judged]
    single = [(g, p) for g, p in zip(gold, predicted) if "+" not in g]
    per_intent = intent_scores([g for g, _ in single], [p for _, p in single])
    topic_f1, per_topic = _topic_macro_f1(gold, predicted)
    found, several = several_grievances_recall(gold, predicted)
    oos = [(g, p) for g, p in zip(gold, predicted) if g == "out_of_scope"]
    result: dict[str, Any] = {
        "messages": len(judged),
        "accuracy": round(sum(same_label(g, p) for g, p in zip(gold, predicted)) / len(gold), 4),
        "topic_macro_f1": topic_f1,
        "per_topic_f1": per_topic,
        "macro_f1": macro_f1(per_intent, CONTRACT_INTENTS),
        "min_intent_f1": min(per_intent[i].f1 for i in CONTRACT_INTENTS if i in per_intent),
        "per_intent_f1": {k: v.f1 for k, v in per_intent.items()},
        "out_of_scope_recall": round(sum(p == "out_of_scope" for _, p in oos) / len(oos), 4) if oos else None,
        "out_of_scope_messages": len(oos),
        "several_grievances": {"messages": several, "every_topic_found": found,
                               "recall": round(found / several, 4) if several else None},
    }
    if confidence is not None:
        result["out_of_scope_taken_as_topic_at_0.9"] = confident_out_of_scope_errors(
            gold, predicted, [c for _, _, c in judged])
    if spans is not None:
        gold_spans = [{(s.start, s.end, s.entity) for s in e.entities} for e in examples]
        exact, relaxed = entity_scores(gold_spans, spans), relaxed_entity_scores(gold_spans, spans)
        result["entity_f1_exact"] = {k: exact[k].f1 if k in exact else 0.0 for k in JUDGED_ENTITIES}
        result["entity_f1_relaxed"] = {k: relaxed[k].f1 if k in relaxed else 0.0 for k in JUDGED_ENTITIES}
        tp = fp = fn = 0.0
        for k in JUDGED_ENTITIES:  # micro-averaged over the judged entities, overlapping spans
            if k in relaxed:
                r = relaxed[k]
                tp_k = r.recall * r.support
                tp += tp_k
                fn += r.support - tp_k
                fp += (tp_k / r.precision - tp_k) if r.precision else 0.0
        result["entity_f1_relaxed_judged"] = round(2 * tp / (2 * tp + fp + fn), 4) if tp else 0.0
    return result


def sealed_ledger(root: Path) -> list[dict[str, Any]]:
    path = root / LEDGER
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_sealed(root: Path, *, rasa_bin: Path, model: Path, out: Path, log: Path,
               train: list[Example], rescore: bool = False) -> dict[str, Any]:
    """Score the sealed set once for this training data (see the module docstring)."""
    digest = training_hash(root)
    earlier = [row for row in sealed_ledger(root) if row["training_hash"] == digest]
    if earlier and not rescore:
        return {**earlier[-1], "from_ledger": True}
    sealed = read_examples(root / SEALED)
    sealed_dir = out / "sealed"
    _rasa(root, rasa_bin, ["test", "nlu", "--model", str(model), "--nlu", str(root / SEALED), "--out",
                           str(sealed_dir), "--successes"], log)
    intents, spans, confidence = diet_predictions_with_confidence(sealed_dir, sealed)
    for name in ("intent_successes.json", "intent_errors.json", "DIETClassifier_errors.json",
                 "DIETClassifier_successes.json"):
        (sealed_dir / name).unlink(missing_ok=True)  # figures only: no sealed message stays in a report
    row = {
        "date": datetime.now().isoformat(timespec="seconds"), "training_hash": digest, "model": model.name,
        "rescored": bool(earlier), "diet": score_sealed(sealed, intents, confidence, spans),
        "baseline_tfidf_logreg": score_sealed(sealed, baseline_predictions(train, sealed), None, None),
    }
    with (root / LEDGER).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return row


def entity_misses(examples: list[Example], spans: list[set[tuple[int, int, str]]]) -> list[dict[str, Any]]:
    """Held-out messages where a judged entity was missed, cut wrong or invented."""
    misses = []
    for example, predicted in zip(examples, spans):
        gold = {(s.start, s.end, s.entity) for s in example.entities if s.entity in JUDGED_ENTITIES}
        pred = {span for span in predicted if span[2] in JUDGED_ENTITIES}
        if gold != pred:
            misses.append({
                "text": example.text,
                "gold": sorted(f"{k}:{example.text[a:b]}" for a, b, k in gold - pred),
                "predicted": sorted(f"{k}:{example.text[a:b]}" for a, b, k in pred - gold),
            })
    return misses


def run_eval(root: Path, *, rasa_bin: Path, folds: int = 5, sealed: bool = True,
             rescore_sealed: bool = False) -> tuple[Path, dict[str, Any]]:
    """Run the whole evaluation; returns the report folder and the summary."""
    out = root / "var" / "reports" / datetime.now().strftime("%Y%m%d-%H%M%S")
    out.mkdir(parents=True, exist_ok=True)
    log = out / "rasa.log"
    started = time.monotonic()
    model = nlu_model(root, rasa_bin, log)
    heldout_dir = out / "heldout"
    _rasa(root, rasa_bin, ["test", "nlu", "--model", str(model), "--nlu", str(HELDOUT), "--out", str(heldout_dir),
                           "--successes"], log)
    train, test = read_examples(root / "nlu"), read_examples(root / HELDOUT)
    intents, spans = diet_predictions(heldout_dir, test)
    summary: dict[str, Any] = {
        "model": model.name, "train_examples": len(train), "heldout_examples": len(test), "targets": TARGETS,
        "diet": score(test, intents, spans),
        "baseline_tfidf_logreg": score(test, baseline_predictions(train, test), None),
        "misclassified": [
            {"text": e.text, "gold": e.intent, "predicted": p} for e, p in zip(test, intents) if p != e.intent
        ],
        "entity_misses": entity_misses(test, spans),
    }
    if sealed:
        summary["sealed"] = run_sealed(root, rasa_bin=rasa_bin, model=model, out=out, log=log, train=train,
                                       rescore=rescore_sealed)
    if folds:
        cv_dir = out / "cross_validation"
        _rasa(root, rasa_bin, ["test", "nlu", "--nlu", "nlu", "--config", "config.yml", "--cross-validation",
                               "--folds", str(folds), "--out", str(cv_dir)], log)
        summary["cross_validation"] = _cv_summary(cv_dir)
    summary["seconds"] = round(time.monotonic() - started)
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    (out / "report.md").write_text(render_report(summary), encoding="utf-8")
    return out, summary


def _cv_summary(cv_dir: Path) -> dict[str, Any]:
    """Rasa's own cross-validation figures (test folds): intents, and entities as Rasa scores
    them (per token, not exact span — the held-out figures above are the stricter ones)."""
    report = _load(cv_dir / "intent_report.json") or {}
    if not (isinstance(report, dict) and "accuracy" in report):
        return {"note": f"see {cv_dir}"}
    per_intent = {k: v.get("f1-score") for k, v in report.items() if isinstance(v, dict) and k in CONTRACT_INTENTS}
    entities = _load(cv_dir / "DIETClassifier_report.json") or {}
    return {
        "accuracy": round(report["accuracy"], 3),
        "macro_f1": round(sum(per_intent.values()) / len(per_intent), 3) if per_intent else None,
        "min_intent_f1": round(min(per_intent.values()), 3) if per_intent else None,
        "per_intent_f1": per_intent,
        "entity_f1_per_token": {k: round(entities[k]["f1-score"], 3) for k in JUDGED_ENTITIES
                                if isinstance(entities, dict) and isinstance(entities.get(k), dict)},
    }


def render_report(summary: dict[str, Any]) -> str:
    diet, base = summary["diet"], summary["baseline_tfidf_logreg"]
    lines = [
        f"# NLU evaluation — {summary['model']}",
        "",
        f"Training examples: {summary['train_examples']}; held-out messages: {summary['heldout_examples']} "
        f"(written apart from the training data, never trained on).",
        "",
        "| figure | DIET pipeline | TF-IDF + LogReg baseline | target |",
        "|---|---|---|---|",
        f"| accuracy | {diet['accuracy']:.3f} | {base['accuracy']:.3f} | ≥ {TARGETS['accuracy']} |",
        f"| macro-F1 (contract intents) | {diet['macro_f1']:.3f} | {base['macro_f1']:.3f} | ≥ {TARGETS['macro_f1']} |",
        f"| macro-F1 (5 dispute topics) | {diet['dispute_macro_f1']:.3f} | {base['dispute_macro_f1']:.3f} | |",
        f"| lowest intent F1 | {diet['min_intent_f1']:.3f} | {base['min_intent_f1']:.3f} | ≥ {TARGETS['min_intent_f1']} |",
    ]
    for entity, f1 in diet.get("judged_entity_f1", {}).items():
        lines.append(f"| entity F1 `{entity}` (exact span) | {f1:.3f} | — | ≥ {TARGETS['entity_f1']} |")
    lines += ["", "## Per intent (held-out)", "", "| intent | P | R | F1 | n | baseline F1 |", "|---|---|---|---|---|---|"]
    for intent in CONTRACT_INTENTS:
        d, b = diet["per_intent"].get(intent), base["per_intent"].get(intent)
        if d:
            lines.append(f"| {intent} | {d['precision']:.2f} | {d['recall']:.2f} | {d['f1']:.2f} | {d['support']} | {b['f1']:.2f} |")
    if "cross_validation" in summary:
        cv = summary["cross_validation"]
        lines += ["", "## Cross-validation (training data, rasa test nlu --cross-validation)", "",
                  f"accuracy {cv.get('accuracy')}, macro-F1 (contract intents) {cv.get('macro_f1')}, "
                  f"lowest intent F1 {cv.get('min_intent_f1')}; entity F1 per token: {cv.get('entity_f1_per_token')}"]
    if "sealed" in summary:
        lines += render_sealed(summary["sealed"])
    lines += ["", "Confusion matrix: `heldout/intent_confusion_matrix.png`.", "", "## Misclassified held-out messages", ""]
    lines += [f"- {m['text']} — gold `{m['gold']}`, predicted `{m['predicted']}`" for m in summary["misclassified"]]
    lines += ["", "## Entity misses (held-out; judged entities, exact span)", ""]
    lines += [f"- {m['text']} — missed {', '.join(m['gold']) or '—'}; predicted instead {', '.join(m['predicted']) or '—'}"
              for m in summary.get("entity_misses", [])]
    return "\n".join(lines) + "\n"


def render_sealed(row: dict[str, Any]) -> list[str]:
    d, b = row["diet"], row["baseline_tfidf_logreg"]
    seen = " (figures from the ledger: this training data was scored before)" if row.get("from_ledger") else ""
    several = d["several_grievances"]
    lines = [
        "", f"## Sealed set ({d['messages']} messages by six separate authors; scored {row['date']}){seen}", "",
        "| figure | DIET pipeline | TF-IDF + LogReg baseline | target |", "|---|---|---|---|",
        f"| accuracy (several grievances: the same set of topics) | {d['accuracy']:.3f} | {b['accuracy']:.3f} | ≥ 0.95 |",
        f"| topic macro-F1 | {d['topic_macro_f1']:.3f} | {b['topic_macro_f1']:.3f} | ≥ 0.95 |",
        f"| macro-F1 (contract intents, one-label messages) | {d['macro_f1']:.3f} | {b['macro_f1']:.3f} | |",
        f"| out-of-scope recall ({d['out_of_scope_messages']} messages) | {d['out_of_scope_recall']:.3f} | "
        f"{b['out_of_scope_recall']:.3f} | |",
        f"| out of scope taken as a topic at ≥ 0.9 | {d.get('out_of_scope_taken_as_topic_at_0.9')} | — | 0 |",
        f"| several grievances, every topic found ({several['messages']}) | {several['recall']:.3f} | "
        f"{b['several_grievances']['recall']:.3f} | ≥ 0.85 |",
        f"| entity F1, judged entities, overlapping spans | {d.get('entity_f1_relaxed_judged', 0):.3f} | — | ≥ 0.90 |",
    ]
    for entity in JUDGED_ENTITIES:
        lines.append(f"| entity F1 `{entity}` (overlap / exact) | {d['entity_f1_relaxed'][entity]:.3f} / "
                     f"{d['entity_f1_exact'][entity]:.3f} | — | ≥ 0.90 |")
    lines += ["", "| intent | F1 | baseline F1 |", "|---|---|---|"]
    for intent in CONTRACT_INTENTS:
        if intent in d["per_intent_f1"]:
            lines.append(f"| {intent} | {d['per_intent_f1'][intent]:.2f} | {b['per_intent_f1'].get(intent, 0):.2f} |")
    return lines
