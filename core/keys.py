"""Text keys the code itself uses; the content load fails if any is missing."""

POINTER = "common.pointer"
POINTER_NEW = "common.pointer_new"
UNKNOWN_COMMAND = "common.unknown_command"
STALE_BUTTON = "common.stale_button"
USE_BUTTONS = "common.use_buttons"
BUSY = "common.busy"
PRIVATE_ONLY = "common.private_only"
GROUP_ONLY = "common.group_only"
EMPTY_TEXT = "common.empty_text"
HELP_HEADER = "help.header"
HELP_LINE = "help.line"
HELP_IN_FLOW = "help.in_flow"
CANCEL_DONE = "cancel.done"
CANCEL_NOTHING = "cancel.nothing"
START_RESUME = "start.resume"
START_WELCOME_BACK = "start.welcome_back"
START_GROUP = "start.group"
SETTINGS_NEEDS_START = "settings.needs_start"
ERROR = "common.error"
"""The apology an adapter sends when handling an event failed."""
OPEN_PRIVATE = "delivery.open_private"
"""Said in a group when a private message could not be delivered; ``$link`` opens a chat."""
ALLOW_DMS = "delivery.allow_dms"
"""Said in a server channel when a direct message was refused (Discord)."""
SENT_PRIVATELY = "delivery.sent_privately"
"""Shown only to the person who acted when everything for them went to a direct message."""

SAFETY_ACK_SELF_HARM = "safety.ack.self_harm"
SAFETY_ACK_PARTNER_HARM = "safety.ack.partner_harm"
SAFETY_ACK_EMERGENCY = "safety.ack.emergency"
SAFETY_CHECK = "safety.check"
SAFETY_MAYBE = "safety.maybe"
""""Are you safe right now?", with the safety buttons."""
SAFETY_BUTTON_SAFE = "safety.button.safe"
SAFETY_BUTTON_UNSAFE = "safety.button.unsafe"
SAFETY_BUTTON_GROUND = "safety.button.ground"
SAFETY_BUTTON_PLAN = "safety.button.plan"
SAFETY_BUTTON_SEE_PLAN = "safety.button.see_plan"
SAFETY_SAFE = "safety.safe"
SAFETY_UNSAFE = "safety.unsafe"
SAFETY_GROUNDING = "safety.grounding"
SAFETY_GROUP_NOTICE = "safety.group_notice"
"""The one neutral line a group sees after a disclosure, identical whoever wrote it."""
SAFETY_PARTNER_NOTICE = "safety.partner_notice"
"""What a partner gets privately after a disclosure in their shared group: no hint of it."""
SAFETY_TIPS = "safety.tips"
SAFETY_PLAN_SHOWN = "safety.plan.shown"
SAFETY_PLAN_EMPTY = "safety.plan.empty"
SAFETY_PLAN_LINE = "safety.plan.line"
SAFETY_MODE_ENTERED = "safety.mode.entered"
SAFETY_MODE_ON = "safety.mode.on"
SAFETY_MODE_OFF = "safety.mode.off"
SAFETY_MODE_STARTED = "safety.mode.started"
SAFETY_MODE_END_ASK = "safety.mode.end_ask"
SAFETY_MODE_ENDED = "safety.mode.ended"
SAFETY_MODE_KEPT = "safety.mode.kept"
SAFETY_BUTTON_MODE_START = "safety.button.mode_start"
SAFETY_BUTTON_MODE_END = "safety.button.mode_end"
SAFETY_BUTTON_MODE_END_YES = "safety.button.mode_end_yes"
SAFETY_BUTTON_MODE_KEEP = "safety.button.mode_keep"
RESOURCES_HEADER_COUNTRY = "safety.resources.header_country"
RESOURCES_HEADER_ANYWHERE = "safety.resources.header_anywhere"
RESOURCES_EMERGENCY = "safety.resources.emergency"
RESOURCES_EMERGENCY_LOCAL = "safety.resources.emergency_local"
RESOURCES_LINE = "safety.resources.line"
RESOURCES_ELSEWHERE = "safety.resources.elsewhere"
SCOPE_IDENTITY = "scope.identity"
SCOPE_DIAGNOSIS = "scope.diagnosis"
PRIVACY_SUMMARY = "privacy.summary"
EXPORT_READY = "export.ready"
NUDGE_MORNING = "nudges.morning"
"""The daily small step; ``$action`` is one of the micro-actions."""
NUDGE_EVENING = "nudges.evening"
NUDGE_WEEKLY = "nudges.weekly"
NUDGE_BREAK_END = "nudges.break_end"
NUDGE_BREAK_END_SELF_CARE = "nudges.break_end_self_care"
"""The end of a break for someone in safety mode: no nudge back into the conversation."""
NUDGE_BUTTON_DONE = "nudges.button.done"
NUDGE_BUTTON_SKIP = "nudges.button.skip"
NUDGE_BUTTON_SWAP = "nudges.button.swap"
NUDGE_BUTTON_PROMISE = "nudges.button.promise"
"""From week two, under the morning step: make today's small promise (``/promise``)."""
NUDGE_BUTTON_KEPT = "nudges.button.kept"
NUDGE_BUTTON_NOT_TODAY = "nudges.button.not_today"
NUDGE_DONE = "nudges.done"
NUDGE_SKIPPED = "nudges.skipped"
NUDGE_SWAPPED = "nudges.swapped"
NUDGE_KEPT = "nudges.kept"
NUDGE_NOT_TODAY = "nudges.not_today"
NUDGE_TODAY = "nudges.today"
"""``/today``: today's step on request."""
NUDGE_TODAY_SAFETY = "nudges.today_safety"
"""``/today`` in safety mode: a step just for the person themselves."""
NUDGES_NOT_SET_UP = "nudges.not_set_up"
NUDGES_STOPPED = "nudges.stop.done"
NUDGES_ALREADY_STOPPED = "nudges.stop.already"
NUDGES_RESUMED = "nudges.resume.done"
NUDGES_ALREADY_ON = "nudges.resume.already"
NUDGES_RESUMED_HELD = "nudges.resume.held"
"""``/resume`` in safety mode: switched on, but held until safety mode ends."""
NUDGES_UNREACHABLE = "nudges.unreachable"
"""Said once, the next time someone writes, after their daily step could not reach them."""
NUDGES_INSIDE_QUIET = "nudges.inside_quiet"
"""The chosen daily time falls inside quiet hours, so the step waits until they end."""
NUDGE_WHEN_TODAY = "nudges.when.today"
NUDGE_WHEN_TOMORROW = "nudges.when.tomorrow"
NUDGE_WHEN_LATER = "nudges.when.later"

NUDGE_KEYS: tuple[str, ...] = (
    NUDGE_MORNING,
    NUDGE_EVENING,
    NUDGE_WEEKLY,
    NUDGE_BREAK_END,
    NUDGE_BREAK_END_SELF_CARE,
    NUDGE_BUTTON_DONE,
    NUDGE_BUTTON_SKIP,
    NUDGE_BUTTON_SWAP,
    NUDGE_BUTTON_PROMISE,
    NUDGE_BUTTON_KEPT,
    NUDGE_BUTTON_NOT_TODAY,
    NUDGE_DONE,
    NUDGE_SKIPPED,
    NUDGE_SWAPPED,
    NUDGE_KEPT,
    NUDGE_NOT_TODAY,
    NUDGE_TODAY,
    NUDGE_TODAY_SAFETY,
    NUDGES_NOT_SET_UP,
    NUDGES_STOPPED,
    NUDGES_ALREADY_STOPPED,
    NUDGES_RESUMED,
    NUDGES_ALREADY_ON,
    NUDGES_RESUMED_HELD,
    NUDGES_UNREACHABLE,
    NUDGES_INSIDE_QUIET,
    NUDGE_WHEN_TODAY,
    NUDGE_WHEN_TOMORROW,
    NUDGE_WHEN_LATER,
)
"""Every fixed text of daily steps, ``/stop`` and ``/resume``. The micro-actions
themselves (``actions.<id>.do`` and ``.ask``) are checked with the programme content."""

PHASE_WHERE = "phase.where"
"""``/phase``: which phase, and which week of the programme."""
PHASE_SUGGEST = "phase.suggest"
PHASE_SUGGEST_AFTER_DONE = "phase.suggest_after_done"
PHASE_CHOOSE = "phase.choose"
PHASE_CHOSEN = "phase.chosen"
PHASE_BACK = "phase.back"
PHASE_SAME = "phase.same"
PHASE_SAFETY = "phase.safety"
PHASE_NEEDS_START = "phase.needs_start"
PHASE_BUTTON_PRACTICES = "phase.button.practices"
PHASE_BUTTON_INSTEAD = "phase.button.instead"
PHASE_BUTTON_MOVE_ON = "phase.button.move_on"
PHASE_BUTTON_CHOOSE = "phase.button.choose"
PHASE_BUTTON_MOVE = "phase.button.move"
PHASE_BUTTON_PICK = "phase.button.pick"
PHASE_SECTIONS = ("name", "intro", "practices", "instead", "move_on")
"""The texts of each phase: ``phase.<n>.<section>``."""
PHASE_KEYS: tuple[str, ...] = (
    PHASE_WHERE,
    PHASE_SUGGEST,
    PHASE_SUGGEST_AFTER_DONE,
    PHASE_CHOOSE,
    PHASE_CHOSEN,
    PHASE_BACK,
    PHASE_SAME,
    PHASE_SAFETY,
    PHASE_NEEDS_START,
    PHASE_BUTTON_PRACTICES,
    PHASE_BUTTON_INSTEAD,
    PHASE_BUTTON_MOVE_ON,
    PHASE_BUTTON_CHOOSE,
    PHASE_BUTTON_MOVE,
    PHASE_BUTTON_PICK,
    *(f"phase.{n}.{section}" for n in (1, 2, 3, 4) for section in PHASE_SECTIONS),
)
"""Every text of ``/phase``."""

PLAN_SECTION_KEYS = {
    "signs": "safety.plan.item.signs",
    "coping": "safety.plan.item.coping",
    "people": "safety.plan.item.people",
    "place": "safety.plan.item.place",
}
"""The heading of each part of a safety plan when it is shown back."""

SAFETY_KEYS: tuple[str, ...] = (
    SAFETY_ACK_SELF_HARM,
    SAFETY_ACK_PARTNER_HARM,
    SAFETY_ACK_EMERGENCY,
    SAFETY_CHECK,
    SAFETY_MAYBE,
    SAFETY_BUTTON_SAFE,
    SAFETY_BUTTON_UNSAFE,
    SAFETY_BUTTON_GROUND,
    SAFETY_BUTTON_PLAN,
    SAFETY_BUTTON_SEE_PLAN,
    SAFETY_SAFE,
    SAFETY_UNSAFE,
    SAFETY_GROUNDING,
    SAFETY_GROUP_NOTICE,
    SAFETY_PARTNER_NOTICE,
    SAFETY_TIPS,
    SAFETY_PLAN_SHOWN,
    SAFETY_PLAN_EMPTY,
    SAFETY_PLAN_LINE,
    SAFETY_MODE_ENTERED,
    SAFETY_MODE_ON,
    SAFETY_MODE_OFF,
    SAFETY_MODE_STARTED,
    SAFETY_MODE_END_ASK,
    SAFETY_MODE_ENDED,
    SAFETY_MODE_KEPT,
    SAFETY_BUTTON_MODE_START,
    SAFETY_BUTTON_MODE_END,
    SAFETY_BUTTON_MODE_END_YES,
    SAFETY_BUTTON_MODE_KEEP,
    RESOURCES_HEADER_COUNTRY,
    RESOURCES_HEADER_ANYWHERE,
    RESOURCES_EMERGENCY,
    RESOURCES_EMERGENCY_LOCAL,
    RESOURCES_LINE,
    RESOURCES_ELSEWHERE,
    SCOPE_IDENTITY,
    SCOPE_DIAGNOSIS,
    PRIVACY_SUMMARY,
    EXPORT_READY,
    *PLAN_SECTION_KEYS.values(),
)

REQUIRED: tuple[str, ...] = (
    POINTER,
    POINTER_NEW,
    UNKNOWN_COMMAND,
    STALE_BUTTON,
    USE_BUTTONS,
    BUSY,
    PRIVATE_ONLY,
    GROUP_ONLY,
    EMPTY_TEXT,
    HELP_HEADER,
    HELP_LINE,
    HELP_IN_FLOW,
    CANCEL_DONE,
    CANCEL_NOTHING,
    START_RESUME,
    START_WELCOME_BACK,
    START_GROUP,
    SETTINGS_NEEDS_START,
    ERROR,
    OPEN_PRIVATE,
    ALLOW_DMS,
    SENT_PRIVATELY,
    *SAFETY_KEYS,
    *NUDGE_KEYS,
    *PHASE_KEYS,
)

PLACEHOLDERS: frozenset[str] = frozenset(
    {
        "name",
        "timezone",
        "daily_time",
        "command",
        "description",
        "title",
        "link",
        "path",
        "country",
        "number",
        "note",
        "line_name",
        "contact",
        "item",
        "text",
        "retention_days",
        "quiet_hours",
        "action",
        "when",
        "next_time",
        "next_date",
        "minutes",
        "partner",
        # /promise, /appreciate, /ouch, /journal and /progress
        "ideas",
        "score",
        "last_score",
        "average",
        "weeks",
        "kept",
        "answered",
        "steps",
        "good",
        "hard",
        "ratio",
        "ask",
        "phase_number",
        "phase_name",
        "week",
        "step",
        "total",
        # /draft and /apology
        "phrase",
        "words",
        "time",
        "what",
        "hurt",
        "part",
        "change",
    }
)
"""Every ``$placeholder`` a text may use."""
