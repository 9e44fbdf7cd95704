"""Rasa custom actions: thin adapters from tracker state to calls on ``bot.cases``.

`python -m rasa_sdk --actions actions` imports every module of this package.
"""
