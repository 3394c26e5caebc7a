"""/healing: the stages-of-healing orientation, its buttons, and its safety-mode variant."""

from __future__ import annotations

import pytest

from core.content import Content
from core.program.names import HEALING_BUTTON
from core.service import CoachService
from core.service.healing import HEALING_KEYS, STAGES, stage_key
from core.service.safety import SafetyAction, encode_action
from core.types import Reply, UserRef
from tests.fakes import group_chat, person, pressed, said
from tests.test_quizzes import onboard


def keys_of(replies: list[Reply]) -> list[str]:
    return [r.key for r in replies]


async def ready_person(service: CoachService, user_id: str) -> UserRef:
    user = person(user_id)
    done = await onboard(service, user)
    assert done[-1].key == "onboarding.done"
    return user


def test_every_healing_text_exists_and_labels_fit(content: Content) -> None:
    texts = content.texts.by_key
    assert all(k in texts for k in HEALING_KEYS)
    assert texts[HEALING_BUTTON[0]]
    assert len(texts[HEALING_BUTTON[0]]) <= 80
    for stage in STAGES:
        assert len(texts[f"healing.button.{stage}"]) <= 80


def test_the_stages_are_the_seven_in_order() -> None:
    assert STAGES == (
        "shock",
        "pain",
        "meaning",
        "crossroads",
        "intention",
        "relapse",
        "integration",
    )


async def test_healing_shows_a_short_overview_with_a_button_per_stage(
    service: CoachService,
) -> None:
    user = await ready_person(service, "4001")
    replies = await service.handle(said(user, "/healing"))
    assert keys_of(replies) == ["healing.overview"]
    overview = replies[0]
    assert len(overview.text) <= 1200
    assert [b.payload for b in overview.buttons] == [f"hl:s:{s}" for s in STAGES]
    assert "not a failure" in overview.text


@pytest.mark.parametrize("stage", STAGES)
async def test_each_stage_opens_with_a_way_on_and_back(service: CoachService, stage: str) -> None:
    user = await ready_person(service, "4002")
    replies = await service.handle(pressed(user, f"hl:s:{stage}"))
    assert keys_of(replies) == [stage_key(stage)]
    payloads = [b.payload for b in replies[0].buttons]
    assert payloads[-1] == "hl:open"
    at = STAGES.index(stage)
    if at + 1 < len(STAGES):
        assert payloads[0] == f"hl:s:{STAGES[at + 1]}"
    else:
        assert payloads == ["hl:open"]
    paragraphs = [p for p in replies[0].text.split("\n\n") if p.strip()]
    assert 1 <= len(paragraphs) <= 2


async def test_relapse_is_presented_as_a_normal_stage(service: CoachService) -> None:
    user = await ready_person(service, "4003")
    replies = await service.handle(pressed(user, "hl:s:relapse"))
    assert keys_of(replies) == ["healing.stage.relapse"]
    text = replies[0].text
    assert "normal stage of healing" in text
    assert "not a failure" in text


async def test_the_offer_button_opens_the_overview(service: CoachService) -> None:
    user = await ready_person(service, "4004")
    assert HEALING_BUTTON == ("healing.offer", "hl:open")
    replies = await service.handle(pressed(user, HEALING_BUTTON[1]))
    assert keys_of(replies) == ["healing.overview"]


async def test_safety_mode_never_holds_up_reconnection_as_the_goal(
    service: CoachService, content: Content
) -> None:
    user = await ready_person(service, "4005")
    normal = await service.handle(pressed(user, "hl:s:crossroads"))
    assert keys_of(normal) == ["healing.stage.crossroads"]
    started = await service.handle(pressed(user, encode_action(SafetyAction.MODE_START)))
    assert "safety.mode.started" in keys_of(started)
    overview = await service.handle(said(user, "/healing"))
    assert keys_of(overview) == ["healing.overview_safety"]
    assert len(overview[0].text) <= 1200
    assert "safety comes first" in overview[0].text
    assert "Reconnecting" not in overview[0].text
    stage = await service.handle(pressed(user, "hl:s:crossroads"))
    assert keys_of(stage) == ["healing.stage.crossroads_safety"]
    assert "safety comes first" in stage[0].text
    relapse = await service.handle(pressed(user, "hl:s:relapse"))
    assert keys_of(relapse) == ["healing.stage.relapse"]


@pytest.mark.parametrize("payload", ["hl:", "hl:s", "hl:s:nope", "hl:s:relapse:1", "hl:open:x"])
async def test_forged_healing_presses_get_a_kind_answer(
    service: CoachService, payload: str
) -> None:
    user = await ready_person(service, "4006")
    replies = await service.handle(pressed(user, payload))
    assert keys_of(replies) == ["healing.stale"]
    assert "/healing" in replies[0].text


async def test_healing_in_a_group_is_private_and_needs_set_up(service: CoachService) -> None:
    stranger = person("4007")
    first = await service.handle(said(stranger, "/healing"))
    assert keys_of(first) == ["healing.needs_start"]
    assert "/start" in first[0].text
    assert keys_of(await service.handle(pressed(stranger, "hl:s:shock"))) == ["healing.needs_start"]
    user = await ready_person(service, "4008")
    group = group_chat("-901")
    refused = await service.handle(said(user, "/healing", group))
    assert keys_of(refused) == ["common.private_only"]
    replies = await service.handle(pressed(user, "hl:open", group))
    assert keys_of(replies) == ["healing.overview"]
    assert replies[0].private_to == user
