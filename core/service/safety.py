"""What Mend says when the safety screen fires, and everything ``/safety`` offers.

All of it goes privately to the person concerned. A group only ever sees one neutral line,
the same whoever wrote the message, and never any part of what was said.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from enum import StrEnum

from core import keys
from core.content import Content
from core.profile import Profile
from core.safety import Category, Screening
from core.safety.resources import CountryResources, LineKind, ResourceBook
from core.types import Button, ChatRef, Reply, UserRef

PREFIX = "s"
"""Payload prefix of safety buttons: ``s:<action>``. They need no conversation state, so
they work from any old message, in any state, even during a break."""


class SafetyAction(StrEnum):
    """What a safety button asks for."""

    SAFE = "safe"
    UNSAFE = "unsafe"
    GROUND = "ground"
    PLAN = "plan"
    SEE_PLAN = "see_plan"
    MODE_START = "mode_start"
    MODE_END = "mode_end"
    MODE_END_YES = "mode_end_yes"
    MODE_KEEP = "mode_keep"


def encode_action(action: SafetyAction) -> str:
    """The payload a safety button carries."""
    return f"{PREFIX}:{action.value}"


def decode_action(payload: str) -> SafetyAction | None:
    """Read a safety payload, or None when ``payload`` is not one."""
    prefix, _, name = payload.partition(":")
    if prefix != PREFIX:
        return None
    try:
        return SafetyAction(name)
    except ValueError:
        return None


_ACKS = {
    Category.EMERGENCY: keys.SAFETY_ACK_EMERGENCY,
    Category.SELF_HARM: keys.SAFETY_ACK_SELF_HARM,
    Category.PARTNER_HARM: keys.SAFETY_ACK_PARTNER_HARM,
}
_CHECK_BUTTONS = (
    (keys.SAFETY_BUTTON_SAFE, SafetyAction.SAFE),
    (keys.SAFETY_BUTTON_UNSAFE, SafetyAction.UNSAFE),
    (keys.SAFETY_BUTTON_GROUND, SafetyAction.GROUND),
    (keys.SAFETY_BUTTON_PLAN, SafetyAction.PLAN),
)
"""The buttons under every "are you safe?" question, firm or gentle."""
_FIRST_KIND = {
    Category.EMERGENCY: LineKind.CRISIS,
    Category.SELF_HARM: LineKind.CRISIS,
    Category.PARTNER_HARM: LineKind.ABUSE,
}


def enters_safety_mode(screening: Screening) -> bool:
    """True when a message points to danger from a partner (alone or with other danger)."""
    return Category.PARTNER_HARM in screening.categories


def with_safety_mode(profile: Profile, now: datetime) -> Profile:
    """``profile`` in safety mode, keeping the moment it first began."""
    if profile.safety_mode:
        return profile
    return replace(profile, safety_mode=True, safety_since=now)


class SafetyDesk:
    """Builds the private safety replies from content texts and the resource data."""

    def __init__(self, content: Content, resources: ResourceBook, *, default_timezone: str) -> None:
        self._texts = content.texts
        self._resources = resources
        self._default_timezone = default_timezone

    def on_hit(
        self,
        screening: Screening,
        chat: ChatRef,
        profile: Profile,
        partners: Sequence[UserRef] = (),
    ) -> list[Reply]:
        """The replies to a message the screen flagged.

        In a private chat the person gets the acknowledgement, resources and the
        "are you safe right now?" check. In a group the group gets one neutral line, the
        writer gets all of that privately, and each partner gets neutral resources
        privately; no reply quotes or hints at what was written.
        """
        category = screening.category
        mine = [
            self._say(_ACKS[category], profile),
            self._resources_reply(profile, first=_FIRST_KIND[category]),
        ]
        if enters_safety_mode(screening) and not profile.safety_mode:
            mine.append(self._say(keys.SAFETY_MODE_ENTERED, profile))
        mine.append(self.check(profile))
        if chat.is_private:
            return mine
        writer = profile.user
        replies = [self._say(keys.SAFETY_GROUP_NOTICE)]
        replies += [replace(r, private_to=writer) for r in mine]
        for partner in partners:
            if partner == writer:
                continue
            neutral = Profile(user=partner)
            replies.append(replace(self._say(keys.SAFETY_PARTNER_NOTICE), private_to=partner))
            replies.append(replace(self._resources_reply(neutral), private_to=partner))
        return replies

    def on_fear_answer(self, profile: Profile) -> list[Reply]:
        """After a button answer (a self-assessment) that points to abuse or fear.

        Resources first, then that safety mode is now on (unless it was), then the
        "are you safe right now?" check. Said only to the person, in private.
        """
        mine = [self._resources_reply(profile)]
        if not profile.safety_mode:
            mine.append(self._say(keys.SAFETY_MODE_ENTERED, profile))
        mine.append(self.check(profile))
        return mine

    def gentle_check(self, profile: Profile) -> Reply:
        """A soft, private "are you safe?" after a message only the learned model flagged.

        It comes after Mend's normal answer, so a false alarm costs one glance and the
        person's answer is never lost; the buttons are the same as :meth:`check`'s.
        """
        return self._with_buttons(keys.SAFETY_MAYBE, profile, *_CHECK_BUTTONS)

    def check(self, profile: Profile) -> Reply:
        """The question "are you safe right now?" with the four safety buttons."""
        return self._with_buttons(keys.SAFETY_CHECK, profile, *_CHECK_BUTTONS)

    def safety_command(self, profile: Profile) -> list[Reply]:
        """What ``/safety`` shows first: tech-safety tips and resources (then mode_status)."""
        return [self._say(keys.SAFETY_TIPS, profile), self._resources_reply(profile)]

    def mode_status(self, profile: Profile, plan_exists: bool) -> Reply:
        """Whether safety mode is on, with the way to change it and the plan buttons."""
        plan = (
            (keys.SAFETY_BUTTON_SEE_PLAN, SafetyAction.SEE_PLAN)
            if plan_exists
            else (keys.SAFETY_BUTTON_PLAN, SafetyAction.PLAN)
        )
        if profile.safety_mode:
            return self._with_buttons(
                keys.SAFETY_MODE_ON,
                profile,
                (keys.SAFETY_BUTTON_GROUND, SafetyAction.GROUND),
                plan,
                (keys.SAFETY_BUTTON_MODE_END, SafetyAction.MODE_END),
            )
        return self._with_buttons(
            keys.SAFETY_MODE_OFF,
            profile,
            (keys.SAFETY_BUTTON_GROUND, SafetyAction.GROUND),
            plan,
            (keys.SAFETY_BUTTON_MODE_START, SafetyAction.MODE_START),
        )

    def safe(self, profile: Profile) -> list[Reply]:
        """After "I'm safe right now": glad, and help stays one command away."""
        return [self._say(keys.SAFETY_SAFE, profile)]

    def unsafe(self, profile: Profile) -> list[Reply]:
        """After "I'm not safe": the emergency number first, then the lines."""
        return [self._say(keys.SAFETY_UNSAFE, profile), self._resources_reply(profile)]

    def grounding(self, profile: Profile) -> list[Reply]:
        """A few grounding steps for a moment of panic or overwhelm."""
        return [self._say(keys.SAFETY_GROUNDING, profile)]

    def plan(self, profile: Profile, items: dict[str, str]) -> Reply:
        """The person's own safety plan shown back to them, or how to make one."""
        if not items:
            return self._with_buttons(
                keys.SAFETY_PLAN_EMPTY, profile, (keys.SAFETY_BUTTON_PLAN, SafetyAction.PLAN)
            )
        lines = [self._texts.render(keys.SAFETY_PLAN_SHOWN, {})]
        for part, key in keys.PLAN_SECTION_KEYS.items():
            text = items.get(f"safety_plan.{part}")
            if text is not None:
                item = self._texts.render(key, {})
                lines.append(
                    self._texts.render(keys.SAFETY_PLAN_LINE, {"item": item, "text": text})
                )
        return Reply(text="\n".join(lines), key=keys.SAFETY_PLAN_SHOWN)

    def mode_started(self, profile: Profile) -> list[Reply]:
        """Safety mode switched on from ``/safety``."""
        return [self._say(keys.SAFETY_MODE_STARTED, profile)]

    def mode_end_ask(self, profile: Profile) -> list[Reply]:
        """The deliberate second step before safety mode ends."""
        return [
            self._with_buttons(
                keys.SAFETY_MODE_END_ASK,
                profile,
                (keys.SAFETY_BUTTON_MODE_END_YES, SafetyAction.MODE_END_YES),
                (keys.SAFETY_BUTTON_MODE_KEEP, SafetyAction.MODE_KEEP),
            )
        ]

    def mode_ended(self, profile: Profile) -> list[Reply]:
        """Safety mode is off; resources stay one command away."""
        return [self._say(keys.SAFETY_MODE_ENDED, profile)]

    def mode_kept(self, profile: Profile) -> list[Reply]:
        """Safety mode stays on."""
        return [self._say(keys.SAFETY_MODE_KEPT, profile)]

    def resources_for(self, profile: Profile) -> CountryResources:
        """The resources for the person's country, judged by their time zone."""
        return self._resources.for_timezone(profile.timezone or self._default_timezone)

    def _resources_reply(self, profile: Profile, first: LineKind = LineKind.CRISIS) -> Reply:
        here = self.resources_for(profile)
        render = self._texts.render
        fallback = self._resources.fallback
        lines: list[str] = []
        if here is fallback:
            lines.append(render(keys.RESOURCES_HEADER_ANYWHERE, {}))
        else:
            lines.append(render(keys.RESOURCES_HEADER_COUNTRY, {"country": here.name}))
        if here.emergency:
            note = here.emergency_note or ""
            lines.append(render(keys.RESOURCES_EMERGENCY, {"number": here.emergency, "note": note}))
        else:
            lines.append(render(keys.RESOURCES_EMERGENCY_LOCAL, {}))
        second = LineKind.ABUSE if first is LineKind.CRISIS else LineKind.CRISIS
        for line in (*here.lines_of(first), *here.lines_of(second)):
            lines.append(
                render(keys.RESOURCES_LINE, {"line_name": line.name, "contact": line.contact})
            )
        if here is not fallback:
            lines.append(render(keys.RESOURCES_ELSEWHERE, {}))
            for line in fallback.lines:
                values = {"line_name": line.name, "contact": line.contact}
                lines.append(render(keys.RESOURCES_LINE, values))
        text = "\n".join(line.rstrip() for line in lines)
        return Reply(text=text, key=keys.RESOURCES_HEADER_COUNTRY)

    def _with_buttons(
        self, key: str, profile: Profile, *buttons: tuple[str, SafetyAction]
    ) -> Reply:
        reply = self._say(key, profile)
        made = tuple(
            Button(self._texts.render(label, {}), encode_action(action))
            for label, action in buttons
        )
        return replace(reply, buttons=made)

    def _say(self, key: str, profile: Profile | None = None) -> Reply:
        values = profile.placeholders(self._default_timezone) if profile else {}
        return Reply(text=self._texts.render(key, values), key=key)
