"""Button payloads: which flow, step and choice a press belongs to."""

from __future__ import annotations

from dataclasses import dataclass

MAX_PAYLOAD_BYTES = 64
"""Telegram's limit on callback data; Discord's custom_id allows 100."""

_PREFIX = "f"


@dataclass(frozen=True, slots=True)
class FlowPayload:
    """A decoded flow button press."""

    flow: str
    step: str
    choice: str


def encode(flow: str, step: str, choice: str) -> str:
    """Return the payload string a flow button carries."""
    return f"{_PREFIX}:{flow}:{step}:{choice}"


def decode(payload: str) -> FlowPayload | None:
    """Read a flow payload, or return None for anything malformed or foreign."""
    parts = payload.split(":")
    if len(parts) != 4 or parts[0] != _PREFIX or not all(parts[1:]):
        return None
    return FlowPayload(parts[1], parts[2], parts[3])
