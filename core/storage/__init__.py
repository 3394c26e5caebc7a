"""Persistence: SQLAlchemy 2 on SQLite or PostgreSQL, schema by Alembic."""

from core.storage.database import Database
from core.storage.repositories import (
    StaleStateError,
    StateRepository,
    UserRepository,
    VersionedState,
    load_turn,
)

__all__ = [
    "Database",
    "StaleStateError",
    "StateRepository",
    "UserRepository",
    "VersionedState",
    "load_turn",
]
