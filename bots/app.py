"""The composition root: settings, content, database and the core service, wired once."""

from __future__ import annotations

import gc
import random
from dataclasses import dataclass

from content import CONTENT_DIR
from core.clock import Clock, SystemClock
from core.content import Content, load_content
from core.privacy import purge_expired_text
from core.service import CoachService
from core.service.nudges import NudgeDesk
from core.settings import Settings
from core.storage import Database
from core.storage.keyring import resolve_cipher


@dataclass(frozen=True, slots=True)
class Core:
    """Everything adapters and the scheduler need: service, content, database, nudges.

    The service holds the cipher for free text at rest, resolved once by ``build_core``.
    """

    service: CoachService
    content: Content
    database: Database
    nudges: NudgeDesk


def settle_heap() -> None:
    """Keep what start-up loaded (imports, content) out of later full garbage collections.

    Called once by long-running processes after start-up: a full collection that walks
    it all stalls the event loop for tens of milliseconds (``bench/RESULTS.md``).
    """
    gc.collect()
    gc.freeze()


async def build_core(
    settings: Settings, *, clock: Clock | None = None, demo_seed: str | None = None
) -> Core:
    """Load content, resolve keys, open, migrate and purge the database, build the service.

    Free text past ``MEND_RETENTION_DAYS`` is purged at every start (and daily by the
    scheduler). ``demo_seed`` makes pairing codes repeatable, for a scripted console demo
    only: such codes are guessable.

    Raises:
        SettingsError: the encryption keys cannot be resolved (see ``core.storage.keyring``).
    """
    content = load_content(CONTENT_DIR)
    cipher = resolve_cipher(settings)
    database = Database(settings.database_url)
    clock = clock or SystemClock()
    try:
        await database.migrate()
        await purge_expired_text(database, clock.now(), settings.mend_retention_days)
    except BaseException:
        await database.close()
        raise
    service = CoachService(
        content,
        database,
        clock,
        cipher=cipher,
        retention_days=settings.mend_retention_days,
        default_timezone=settings.mend_default_timezone,
        pause_cap=settings.mend_pause_cap,
        # Deliberately predictable, and only for a scripted console demo (see docstring).
        code_choice=random.Random(demo_seed).choice if demo_seed is not None else None,  # noqa: S311
    )
    return Core(service=service, content=content, database=database, nudges=service.nudges)
