"""Services: the one entry point adapters and the scheduler call."""

from core.service.coach import CoachService

__all__ = ["CoachService"]
