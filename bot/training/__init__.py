"""Model training, the trained-model cache, and (later) evaluation and the NLU inbox."""
