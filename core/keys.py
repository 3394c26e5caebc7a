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
)

PLACEHOLDERS: frozenset[str] = frozenset(
    {"name", "timezone", "daily_time", "command", "description", "title", "link"}
)
"""Every ``$placeholder`` a text may use."""
