"""The composition root: settings, content, database and the core service, wired once."""

from __future__ import annotations

from dataclasses import dataclass

from content import CONTENT_DIR
from core.clock import Clock, SystemClock
from core.content import Content, load_content
from core.service import CoachService
from core.settings import Settings
from core.storage import Database


@dataclass(frozen=True, slots=True)
class Core:
    """Everything an adapter needs: the service, its content and the database it owns."""

    service: CoachService
    content: Content
    database: Database


async def build_core(settings: Settings, *, clock: Clock | None = None) -> Core:
    """Load content, open the database, apply migrations and build the service."""
    content = load_content(CONTENT_DIR)
    database = Database(settings.database_url)
    try:
        await database.migrate()
    except BaseException:
        await database.close()
        raise
    service = CoachService(
        content,
        database,
        clock or SystemClock(),
        default_timezone=settings.mend_default_timezone,
    )
    return Core(service=service, content=content, database=database)
