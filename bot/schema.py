"""Imports every table module so ``Base.metadata`` is complete (migrations, tests)."""

from bot.cases import (  # noqa: F401
    access, accounts, alerts, evidence, handoffs, membership, models, nonces, org_models, outbox, review,
)
from bot.training import admin_intents, inbox, jobs, registry  # noqa: F401
