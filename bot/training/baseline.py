"""The baseline the DIET pipeline must beat: character n-gram TF-IDF + logistic regression,
trained on the same training data and scored on the same held-out messages."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from bot.training.nludata import Example


def baseline_predictions(train: Sequence[Example], test: Sequence[Example]) -> list[str]:
    """Predicted intent for each test message (fixed seed: the same data gives the same answer)."""
    model = make_pipeline(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True),
        LogisticRegression(max_iter=2000, C=10.0, random_state=42),
    )
    model.fit([e.text for e in train], [e.intent for e in train])
    return list(model.predict([e.text for e in test]))
