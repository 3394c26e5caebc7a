"""Errors an adapter raises to the composition root, and how adapters log failures."""

from __future__ import annotations

import traceback


class AdapterStartError(Exception):
    """An adapter could not start; the message is one line for the operator, no secrets."""


def describe_failure(error: BaseException | None) -> str:
    """The error's type and stack frames, never its message.

    An exception's message can quote what someone wrote (a parse error, a rejected
    request), so adapters log this instead of ``str(error)``.
    """
    if error is None:
        return "unknown error"
    frames = "".join(traceback.format_tb(error.__traceback__))
    return f"{type(error).__name__}\n{frames}"
