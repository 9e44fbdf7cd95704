""""Save as test": a real conversation, read from Rasa's tracker, becomes a Rasa test story
(worker's words redacted) for the dialogue test suite, and the worker's messages in it become
NLU inbox candidates for annotators."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.training.inbox import InboxItem, do_record_unsure, redact

SKIPPED_ACTIONS = {"action_listen", "action_session_start", "action_unlikely_intent"}


def story_from_events(events: Iterable[dict[str, Any]], *, title: str) -> str:
    """The conversation as a test story in Rasa's YAML format (``tests/stories/``)."""
    steps: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event")
        if kind == "user":
            intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or "nlu_fallback"
            text = redact(str(event.get("text") or ""))
            if text.startswith("/"):  # a button: the intent is the step
                steps.append({"intent": intent})
            else:
                steps.append({"user": text, "intent": intent})
        elif kind == "action" and event.get("name") not in SKIPPED_ACTIONS:
            steps.append({"action": event["name"]})
        elif kind == "active_loop":
            steps.append({"active_loop": event.get("name")})
    return yaml.safe_dump({"version": "3.1", "stories": [{"story": title, "steps": steps}]},
                          allow_unicode=True, sort_keys=False)


async def do_inbox_candidates(session: AsyncSession, *, sender: str, events: Iterable[dict[str, Any]]) -> int:
    """Each typed message of the conversation goes to the inbox (once); returns how many."""
    known = set((await session.execute(select(InboxItem.text).where(InboxItem.sender == sender))).scalars())
    added = 0
    for event in events:
        text = str(event.get("text") or "").strip()
        if event.get("event") != "user" or not text or text.startswith("/") or text in known:
            continue
        ranking = [{"name": r.get("name"), "confidence": round(float(r.get("confidence") or 0), 4)}
                   for r in (event.get("parse_data") or {}).get("intent_ranking") or []]
        await do_record_unsure(session, text=text, sender=sender, ranking=ranking)
        known.add(text)
        added += 1
    return added
