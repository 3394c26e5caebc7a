"""Reading YAML safely, in C where the installed PyYAML has libyaml."""

from __future__ import annotations

from typing import Any

import yaml

SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's safe loader, in C (libyaml) where the wheel has it: several times faster on
the content tree, which start-up and every content test read whole."""


def load_yaml(text: str) -> Any:
    """Parse ``text`` with the safe loader (no Python objects, no code)."""
    return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader
