"""Imports every table module so ``Base.metadata`` is complete (migrations, tests)."""

from bot.cases import evidence, membership, models, org_models, outbox, review  # noqa: F401
from bot.training import inbox  # noqa: F401
