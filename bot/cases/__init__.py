"""The case domain: contacts, messages, cases and their timelines.

Nothing here imports aiohttp, a channel, or rasa_sdk (tests/test_import_graph.py checks).
"""
