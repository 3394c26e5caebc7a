"""The code word inside the safety plan: the break starts and safety help is not lost."""

from __future__ import annotations

from core.service import CoachService
from core.service.safety import SafetyAction, encode_action
from core.storage import Database
from tests.fakes import said
from tests.test_pause import CODEWORD, all_breaks, make_couple, pressed, profile_of


async def test_a_disclosure_with_the_code_word_in_a_safe_flow_keeps_safety_mode(
    service: CoachService, sqlite_db: Database
) -> None:
    """Writing the safety plan, a person names danger from a partner and the code word.

    The break is called (they asked for it), and safety mode still switches on: the
    flagged disclosure must not be dropped because the same message called a break.
    """
    pair = await make_couple(service, sqlite_db, codeword=CODEWORD)
    await service.handle(pressed(pair.sam, encode_action(SafetyAction.PLAN)))
    await service.handle(said(pair.sam, f"my partner hit me last week {CODEWORD}"))
    assert await all_breaks(sqlite_db) == 1
    assert (await profile_of(sqlite_db, pair.sam)).safety_mode
