"""The repair programme's desks, in the order the service asks them."""

from __future__ import annotations

from core.service.apology_desk import ApologyDesk
from core.service.desk import DeskKit, ProgramDesk
from core.service.draft_desk import DraftDesk
from core.service.healing import HealingDesk
from core.service.phase_desk import PhaseDesk
from core.service.quiz_desk import QuizDesk
from core.service.tracking_desk import TrackingDesk


def program_desks(kit: DeskKit) -> tuple[ProgramDesk, ...]:
    """Every programme desk, built with ``kit``."""
    return (
        PhaseDesk(kit),
        QuizDesk(kit),
        HealingDesk(kit),
        TrackingDesk(kit),
        DraftDesk(kit),
        ApologyDesk(kit),
    )
