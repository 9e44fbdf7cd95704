"""The sealed test set (tests/nlu/sealed/): messages by six separate authors, each given a
persona and channel, who never saw nlu/ or the held-out set. It is scored by `python -m bot
eval` once per training-data change and never tuned against; these checks keep it usable
and keep it sealed (nothing of it in the training data)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from bot.training.metrics import CONTRACT_INTENTS, DISPUTE_INTENTS
from bot.training.nludata import read_examples

ROOT = Path(__file__).resolve().parents[2]
SEALED = ROOT / "tests" / "nlu" / "sealed"
ENTITIES = {"amount", "employer", "headcount", "duration", "date", "hometown", "location"}


def _same(text: str) -> str:
    return re.sub(r"[\s，。,.!！?？~～、…:：;；\"'“”]+", "", text).lower()


def test_the_sealed_set_is_large_and_from_several_authors() -> None:
    files = sorted(SEALED.glob("*.yml"))
    assert len(files) >= 6
    per_file = {f.name: len(read_examples(f)) for f in files}
    assert sum(per_file.values()) >= 600 and min(per_file.values()) >= 100, per_file
    assert all("SEALED TEST SET" in f.read_text(encoding="utf-8")[:2000] for f in files)


def test_every_label_is_in_the_contract_and_several_grievances_keep_the_fixed_order() -> None:
    examples = read_examples(SEALED)
    for example in examples:
        parts = example.intent.split("+")
        if len(parts) > 1:
            assert all(p in DISPUTE_INTENTS for p in parts), example.intent
            assert parts == sorted(parts, key=DISPUTE_INTENTS.index) and len(set(parts)) == len(parts), example.intent
        else:
            assert example.intent in CONTRACT_INTENTS, example.intent
        assert {s.entity for s in example.entities} <= ENTITIES, example.text
        assert all(example.text[s.start:s.end] == s.text and s.text.strip() for s in example.entities)
    labels = Counter("several" if "+" in e.intent else e.intent for e in examples)
    # what the independent checks found weakest must be well represented
    assert labels["several"] >= 60 and labels["out_of_scope"] >= 120, labels
    assert labels["check_case_status"] >= 30 and labels["request_human"] >= 30, labels


def test_nothing_of_the_sealed_set_is_in_the_training_data_or_the_heldout_set() -> None:
    """Stock phrases (你好, 转人工, 不是这个, 公司不给交五险一金) were written by the authors and by
    us alike, and stay; anything longer found in nlu/ was copied from the sealed set."""
    seen = {_same(e.text) for e in read_examples(ROOT / "nlu", ROOT / "tests" / "nlu" / "heldout.yml")}
    leaked = [e.text for e in read_examples(SEALED) if _same(e.text) in seen and len(_same(e.text)) > 9]
    assert not leaked


def test_no_phone_or_id_number_is_in_the_sealed_set() -> None:
    text = "".join(f.read_text(encoding="utf-8") for f in SEALED.glob("*.yml"))
    assert not re.search(r"1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}", text)
    assert not re.search(r"\d{17}[\dXx]", text)
