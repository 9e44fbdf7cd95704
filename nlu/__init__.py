"""Custom Rasa NLU components for Gongyou (loaded by Rasa as ``nlu.components.*``).

Only Rasa imports this package; nothing under ``bot/`` or ``actions/`` may import it.
"""
