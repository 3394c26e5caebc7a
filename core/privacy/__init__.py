"""People's data in their own hands: export, deletion and the retention purge."""

from core.privacy.data import (
    HOOKS,
    delete_person,
    export_person,
    purge_expired,
    purge_expired_text,
)

__all__ = ["HOOKS", "delete_person", "export_person", "purge_expired", "purge_expired_text"]
