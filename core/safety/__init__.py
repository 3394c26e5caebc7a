"""The safety screen: a deterministic check run on every free-text message first."""

from core.safety.screen import Category, Screening, screen

__all__ = ["Category", "Screening", "screen"]
