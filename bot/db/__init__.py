"""Database plumbing: declarative base, engine and session factories. No domain rules here."""

from bot.db.base import Base, UTCDateTime, utcnow
from bot.db.engine import create_engine, create_sessionmaker, session_scope

__all__ = ["Base", "UTCDateTime", "utcnow", "create_engine", "create_sessionmaker", "session_scope"]
