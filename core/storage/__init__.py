"""Persistence: SQLAlchemy 2 async on SQLite or PostgreSQL, schema by Alembic."""

from core.storage.database import Database
from core.storage.repositories import (
    StaleStateError,
    StateRepository,
    UserRepository,
    VersionedState,
)

__all__ = ["Database", "StaleStateError", "StateRepository", "UserRepository", "VersionedState"]
