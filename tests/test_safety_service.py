"""Safety in the core service: replies to a flagged message, safety mode, /safety, scope."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core import keys
from core.content import Content
from core.flows.engine import FlowState
from core.profile import Profile
from core.safety import Category, Screening, screen
from core.safety.resources import load_resources
from core.service import CoachService
from core.service import coach as coach_module
from core.service.safety import SafetyAction, SafetyDesk, encode_action
from core.storage import Database, UserRepository
from core.types import Reply, UserRef
from tests.fakes import FakeClock, group_chat, person, pressed, said
from tests.test_coach_service import onboard, stored_state, tap

SELF_HARM = "i want to kill myself"
PARTNER_HARM = "he hits me when he is angry and i am scared of him"
EMERGENCY = "he is outside the door with a knife right now"


def test_the_example_messages_are_flagged_as_meant() -> None:
    assert screen(SELF_HARM).category is Category.SELF_HARM
    assert screen(PARTNER_HARM).category is Category.PARTNER_HARM
    assert screen(EMERGENCY).category is Category.EMERGENCY


def payloads(replies: list[Reply]) -> list[str]:
    return [b.payload for r in replies for b in r.buttons]


async def profile_of(database: Database, user: UserRef) -> tuple[bool, object]:
    found = await database.run(lambda c: UserRepository(c).find(user))
    assert found is not None
    return found.safety_mode, found.safety_since


async def test_a_private_disclosure_gets_acknowledgement_resources_and_the_check(
    service: CoachService, content: Content
) -> None:
    sam = person()
    await onboard(service, sam, zone="London")
    replies = await service.handle(said(sam, SELF_HARM))
    assert [r.key for r in replies] == [
        keys.SAFETY_ACK_SELF_HARM,
        keys.RESOURCES_HEADER_COUNTRY,
        keys.SAFETY_CHECK,
    ]
    resources = replies[1].text
    assert "United Kingdom" in resources and "999" in resources and "116 123" in resources
    assert payloads(replies) == [
        encode_action(a)
        for a in (SafetyAction.SAFE, SafetyAction.UNSAFE, SafetyAction.GROUND, SafetyAction.PLAN)
    ]
    assert all(r.private_to is None and r.chat is None for r in replies)
    assert all(SELF_HARM not in r.text for r in replies)


async def test_crisis_lines_lead_for_self_harm_and_abuse_lines_for_partner_harm(
    service: CoachService, database: Database
) -> None:
    sam, robin = person("1"), person("2")
    await onboard(service, sam, zone="Chicago")
    await onboard(service, robin, zone="Chicago")
    crisis = (await service.handle(said(sam, SELF_HARM)))[1].text
    abuse = (await service.handle(said(robin, PARTNER_HARM)))[1].text
    assert crisis.index("988") < crisis.index("1-800-799-7233")
    assert abuse.index("1-800-799-7233") < abuse.index("988")


async def test_an_unknown_country_gets_the_international_fallback(service: CoachService) -> None:
    sam = person()
    await onboard(service, sam, zone="Tokyo")
    text = (await service.handle(said(sam, SELF_HARM)))[1].text
    assert "findahelpline.com" in text
    assert "local emergency number" in text


async def test_a_disclosure_mid_flow_stops_that_turn_and_keeps_the_place(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    replies = await service.handle(said(sam, "/start"))
    await tap(service, sam, replies, "adult")
    before = await stored_state(sqlite_db, sam)
    replies = await service.handle(said(sam, SELF_HARM))
    assert replies[0].key == keys.SAFETY_ACK_SELF_HARM
    assert "onboarding.consent" not in [r.key for r in replies]
    assert await stored_state(sqlite_db, sam) == before == FlowState("onboarding", "consent")


async def test_partner_harm_starts_safety_mode_once_and_i_am_fine_does_not_end_it(
    service: CoachService, sqlite_db: Database, clock: FakeClock
) -> None:
    sam = person()
    await onboard(service, sam)
    first = await service.handle(said(sam, PARTNER_HARM))
    began = clock.now()
    assert keys.SAFETY_MODE_ENTERED in [r.key for r in first]
    assert await profile_of(sqlite_db, sam) == (True, began)
    clock.advance(hours=1)
    again = await service.handle(said(sam, PARTNER_HARM))
    assert keys.SAFETY_MODE_ENTERED not in [r.key for r in again]
    safe = await service.handle(pressed(sam, encode_action(SafetyAction.SAFE)))
    assert [r.key for r in safe] == [keys.SAFETY_SAFE]
    assert await profile_of(sqlite_db, sam) == (True, began)


async def test_self_harm_alone_does_not_start_safety_mode(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(said(sam, SELF_HARM))
    assert await profile_of(sqlite_db, sam) == (False, None)


async def test_ending_safety_mode_takes_two_deliberate_taps(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    await service.handle(said(sam, PARTNER_HARM))
    ask = await service.handle(pressed(sam, encode_action(SafetyAction.MODE_END)))
    assert [r.key for r in ask] == [keys.SAFETY_MODE_END_ASK]
    assert (await profile_of(sqlite_db, sam))[0] is True
    kept = await service.handle(pressed(sam, encode_action(SafetyAction.MODE_KEEP)))
    assert [r.key for r in kept] == [keys.SAFETY_MODE_KEPT]
    assert (await profile_of(sqlite_db, sam))[0] is True
    ended = await service.handle(pressed(sam, encode_action(SafetyAction.MODE_END_YES)))
    assert [r.key for r in ended] == [keys.SAFETY_MODE_ENDED]
    assert await profile_of(sqlite_db, sam) == (False, None)


async def test_safety_mode_can_be_switched_on_from_safety(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    await onboard(service, sam)
    replies = await service.handle(said(sam, "/safety"))
    assert [r.key for r in replies] == [
        keys.SAFETY_TIPS,
        keys.RESOURCES_HEADER_COUNTRY,
        keys.SAFETY_MODE_OFF,
    ]
    assert encode_action(SafetyAction.MODE_START) in payloads(replies)
    await service.handle(pressed(sam, encode_action(SafetyAction.MODE_START)))
    assert (await profile_of(sqlite_db, sam))[0] is True
    status = (await service.handle(said(sam, "/safety")))[-1]
    assert status.key == keys.SAFETY_MODE_ON
    assert encode_action(SafetyAction.MODE_END) in payloads([status])


async def test_safety_works_mid_flow_without_moving_it(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    replies = await service.handle(said(sam, "/start"))
    await tap(service, sam, replies, "adult")
    before = await stored_state(sqlite_db, sam)
    assert before is not None
    replies = await service.handle(said(sam, "/safety"))
    assert replies[0].key == keys.SAFETY_TIPS
    assert await stored_state(sqlite_db, sam) == before


async def test_safety_buttons_work_from_any_state_and_keep_it(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    replies = await service.handle(said(sam, "/start"))
    await tap(service, sam, replies, "adult")
    before = await stored_state(sqlite_db, sam)
    for action in (SafetyAction.GROUND, SafetyAction.UNSAFE, SafetyAction.SAFE):
        replies = await service.handle(pressed(sam, encode_action(action)))
        assert replies and replies[0].key != keys.STALE_BUTTON
    assert await stored_state(sqlite_db, sam) == before
    unsafe = await service.handle(pressed(sam, encode_action(SafetyAction.UNSAFE)))
    assert [r.key for r in unsafe] == [keys.SAFETY_UNSAFE, keys.RESOURCES_HEADER_COUNTRY]


@pytest.mark.parametrize("text", [SELF_HARM, PARTNER_HARM, EMERGENCY])
async def test_in_a_group_the_group_sees_one_line_the_same_whoever_wrote(
    service: CoachService, text: str
) -> None:
    group = group_chat()
    seen: list[list[tuple[str, str]]] = []
    for writer in (person("1", "Alex"), person("2", "Robin")):
        replies = await service.handle(said(writer, text, group, addressed=False))
        public = [r for r in replies if r.private_to is None]
        private = [r for r in replies if r.private_to is not None]
        seen.append([(r.key, r.text) for r in public])
        assert {r.private_to for r in private} == {writer}
        assert next(r.key for r in private) in (
            keys.SAFETY_ACK_SELF_HARM,
            keys.SAFETY_ACK_PARTNER_HARM,
            keys.SAFETY_ACK_EMERGENCY,
        )
        assert all(text not in r.text for r in replies)
    assert seen[0] == seen[1] == [(keys.SAFETY_GROUP_NOTICE, seen[0][0][1])]
    assert "Alex" not in seen[0][0][1] and "Robin" not in seen[0][0][1]


async def test_ordinary_group_chatter_not_meant_for_mend_gets_nothing(
    service: CoachService,
) -> None:
    chatter = said(person(), "we fight about money all the time", group_chat(), addressed=False)
    assert await service.handle(chatter) == []


async def test_a_partner_gets_neutral_private_resources_and_nothing_of_the_message(
    content: Content,
) -> None:
    desk = SafetyDesk(content, load_resources(), default_timezone="Europe/London")
    writer, partner = person("1", "Alex"), person("2", "Robin")
    replies = desk.on_hit(screen(PARTNER_HARM), group_chat(), Profile(user=writer), [partner])
    to_partner = [r for r in replies if r.private_to == partner]
    assert [r.key for r in to_partner] == [
        keys.SAFETY_PARTNER_NOTICE,
        keys.RESOURCES_HEADER_COUNTRY,
    ]
    assert not any(r.buttons for r in to_partner)
    assert all("Alex" not in r.text and PARTNER_HARM not in r.text for r in to_partner)


@pytest.mark.parametrize(
    "text",
    ["are you a bot?", "R U HUMAN", "am i talking to a real person", "are you a therapist"],
)
async def test_identity_questions_are_answered_truthfully(
    service: CoachService, content: Content, text: str
) -> None:
    replies = await service.handle(said(person(), text))
    assert [r.key for r in replies] == [keys.SCOPE_IDENTITY]
    answer = replies[0].text.lower()
    assert "ai" in answer and "not a human" in answer and "not a therapist" in answer


@pytest.mark.parametrize(
    "text", ["is my partner a narcissist?", "does he have BPD", "can you diagnose my wife"]
)
async def test_diagnosis_is_declined_kindly_with_a_pointer_to_a_professional(
    service: CoachService, text: str
) -> None:
    replies = await service.handle(said(person(), text))
    assert [r.key for r in replies] == [keys.SCOPE_DIAGNOSIS]
    assert "professional" in replies[0].text or "therapist" in replies[0].text


async def test_a_scope_question_mid_flow_repeats_the_step(
    service: CoachService, sqlite_db: Database
) -> None:
    sam = person()
    replies = await service.handle(said(sam, "/start"))
    await tap(service, sam, replies, "adult")
    replies = await service.handle(said(sam, "wait, are you a real person?"))
    assert [r.key for r in replies] == [keys.SCOPE_IDENTITY, "onboarding.consent"]
    assert await stored_state(sqlite_db, sam) == FlowState("onboarding", "consent")


async def test_safety_in_a_group_answers_privately(service: CoachService) -> None:
    sam = person()
    replies = await service.handle(said(sam, "/safety", group_chat()))
    assert replies and all(r.private_to == sam for r in replies)


def tentative(category: Category) -> Screening:
    return Screening(category, (f"learned_{category.value}",))


@pytest.fixture
def model_only(monkeypatch: pytest.MonkeyPatch) -> Callable[[Category], None]:
    """Make every typed message a hit only the learned model saw, of the given category."""

    def use(category: Category) -> None:
        monkeypatch.setattr(coach_module, "screen", lambda _text: tentative(category))

    return use


def test_a_hit_only_the_model_saw_is_tentative_and_a_cue_hit_is_not() -> None:
    assert tentative(Category.SELF_HARM).tentative
    assert not screen(SELF_HARM).tentative
    assert not Screening(Category.NONE).tentative


async def test_a_tentative_hit_keeps_the_answer_and_adds_a_gentle_private_check(
    service: CoachService, sqlite_db: Database, model_only: Callable[[Category], None]
) -> None:
    sam = person()
    replies = await service.handle(said(sam, "/start"))
    replies = await tap(service, sam, replies, "adult")
    await tap(service, sam, replies, "agree")
    asking_zone = await stored_state(sqlite_db, sam)
    model_only(Category.SELF_HARM)
    answered = await service.handle(said(sam, "London"))
    assert answered[-1].key == keys.SAFETY_MAYBE
    assert payloads(answered[-1:]) == [
        encode_action(a)
        for a in (SafetyAction.SAFE, SafetyAction.UNSAFE, SafetyAction.GROUND, SafetyAction.PLAN)
    ]
    assert keys.SAFETY_ACK_SELF_HARM not in [r.key for r in answered]
    # The answer itself was handled as usual: the flow moved on from where it stood.
    assert asking_zone is not None and asking_zone.flow == "onboarding"
    assert await stored_state(sqlite_db, sam) != asking_zone


async def test_a_tentative_partner_harm_hit_does_not_start_safety_mode(
    service: CoachService, sqlite_db: Database, model_only: Callable[[Category], None]
) -> None:
    sam = person()
    await onboard(service, sam, zone="London")
    model_only(Category.PARTNER_HARM)
    replies = await service.handle(said(sam, "he was quiet all evening"))
    assert replies[-1].key == keys.SAFETY_MAYBE
    assert keys.SAFETY_MODE_ENTERED not in [r.key for r in replies]
    assert (await profile_of(sqlite_db, sam))[0] is False


async def test_a_tentative_emergency_still_gets_the_full_answer(
    service: CoachService, model_only: Callable[[Category], None]
) -> None:
    sam = person()
    await onboard(service, sam, zone="London")
    model_only(Category.EMERGENCY)
    replies = await service.handle(said(sam, "he's back"))
    assert replies[0].key == keys.SAFETY_ACK_EMERGENCY
    assert keys.SAFETY_CHECK in [r.key for r in replies]


async def test_in_a_group_a_tentative_check_goes_only_to_the_writer(
    service: CoachService, model_only: Callable[[Category], None]
) -> None:
    alex = person("1", "Alex")
    model_only(Category.SELF_HARM)
    group = group_chat()
    addressed = await service.handle(said(alex, "what should we talk about tonight", group))
    checks = [r for r in addressed if r.key == keys.SAFETY_MAYBE]
    assert len(checks) == 1 and checks[0].private_to == alex
    assert keys.SAFETY_GROUP_NOTICE not in [r.key for r in addressed]
    assert all(r.private_to is None for r in addressed if r.key != keys.SAFETY_MAYBE)
    # Chatter not meant for Mend is left alone on a guess.
    chatter = said(alex, "long day, talk later", group, addressed=False)
    assert await service.handle(chatter) == []


@pytest.mark.parametrize("command", ["/draft", "/ouch", "/appreciate", "/promise"])
async def test_words_after_a_free_text_command_pass_the_safety_screen(
    service: CoachService, command: str
) -> None:
    sam = person()
    await onboard(service, sam, zone="London")
    replies = await service.handle(said(sam, f"{command} {SELF_HARM}"))
    assert [r.key for r in replies] == [
        keys.SAFETY_ACK_SELF_HARM,
        keys.RESOURCES_HEADER_COUNTRY,
        keys.SAFETY_CHECK,
    ]


@pytest.mark.parametrize("line", ["/codeword safe", "/codeword knife", "/pause 20m"])
async def test_a_commands_own_arguments_are_not_read_as_a_disclosure(
    service: CoachService, line: str
) -> None:
    sam = person()
    await onboard(service, sam, zone="London")
    replies = await service.handle(said(sam, line))
    got = [r.key for r in replies]
    assert not any(k.startswith(("safety.", "resources.")) for k in got), got
