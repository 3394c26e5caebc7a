from core.service import CoachService
from tests.fakes import person, said


async def test_start_says_it_is_an_ai_coach(service: CoachService) -> None:
    replies = await service.handle(said(person(), "/start"))
    assert [r.key for r in replies] == ["onboarding.intro"]
    assert "AI coach" in replies[0].text
    assert len(replies[0].buttons) == 2
