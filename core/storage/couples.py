"""Pairing codes, couples, their linked group and code word."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, select, update

from core.couples import Couple, Invite, Partner
from core.crypto import Cipher
from core.storage.personal_data import Exported, PersonalDataHooks, iso
from core.storage.repositories import USER_ID, aware, who
from core.storage.tables import couple_members, couples, pair_invites, users
from core.types import ChatKind, ChatRef, Platform, UserRef

_MEMBERS = (
    select(
        couple_members.c.couple_id,
        couple_members.c.user_id,
        couple_members.c.name,
        users.c.platform,
        users.c.platform_user_id,
        users.c.timezone,
        users.c.safety_mode,
    )
    .select_from(couple_members.join(users, users.c.id == couple_members.c.user_id))
    .where(couple_members.c.couple_id == bindparam("couple_id"))
    .order_by(couple_members.c.id)
)
_COUPLE_OF_USER = select(couple_members.c.couple_id).where(couple_members.c.user_id == USER_ID)
_COUPLE_OF_GROUP = select(couples.c.id).where(
    couples.c.group_platform == bindparam("platform"),
    couples.c.group_chat_id == bindparam("chat_id"),
)


def _chat(platform: str | None, chat_id: str | None, thread: str | None) -> ChatRef | None:
    if platform is None or chat_id is None:
        return None
    return ChatRef(Platform(platform), chat_id, ChatKind.GROUP, thread)


def _partner(row: Row[*tuple[Any, ...]]) -> Partner:
    return Partner(
        user=UserRef(Platform(row.platform), row.platform_user_id),
        member_id=row.user_id,
        name=row.name,
        timezone=row.timezone,
        safety_mode=bool(row.safety_mode),
    )


class CoupleRepository:
    """Couples on one transaction."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    # ------------------------------------------------------------------ people

    def member_id(self, user: UserRef) -> int | None:
        """The ``users.id`` of ``user``, or None if they never talked to Mend."""
        value = self._connection.execute(select(USER_ID), who(user)).scalar()
        return int(value) if value is not None else None

    # ------------------------------------------------------------------ invites

    def create_invite(self, user: UserRef, code: str, now: datetime, expires_at: datetime) -> None:
        """Store a new code for ``user``, dropping their earlier unused ones."""
        member = self.member_id(user)
        if member is None:
            raise ValueError("unknown person")
        self._connection.execute(
            delete(pair_invites).where(
                pair_invites.c.user_id == member, pair_invites.c.used_at.is_(None)
            )
        )
        self._connection.execute(
            pair_invites.insert(),
            {
                "code": code,
                "user_id": member,
                "created_at": now,
                "expires_at": expires_at,
                "used_at": None,
            },
        )

    def invite(self, code: str) -> Invite | None:
        """The invite with ``code``, or None."""
        row = self._connection.execute(
            select(
                pair_invites.c.code,
                pair_invites.c.expires_at,
                pair_invites.c.used_at,
                users.c.platform,
                users.c.platform_user_id,
            )
            .select_from(pair_invites.join(users, users.c.id == pair_invites.c.user_id))
            .where(pair_invites.c.code == code)
        ).first()
        if row is None:
            return None
        expires = aware(row.expires_at)
        assert expires is not None
        return Invite(
            code=row.code,
            inviter=UserRef(Platform(row.platform), row.platform_user_id),
            expires_at=expires,
            used_at=aware(row.used_at),
        )

    def use_invite(self, code: str, now: datetime) -> bool:
        """Mark ``code`` used; False if it was already used (so only one acceptance wins)."""
        result = self._connection.execute(
            update(pair_invites)
            .where(pair_invites.c.code == code, pair_invites.c.used_at.is_(None))
            .values(used_at=now)
        )
        return bool(result.rowcount)

    def drop_unused_invites(self, user: UserRef) -> int:
        """Remove the codes ``user`` made that nobody used (once they are paired)."""
        result = self._connection.execute(
            delete(pair_invites).where(
                pair_invites.c.user_id == USER_ID, pair_invites.c.used_at.is_(None)
            ),
            who(user),
        )
        return int(result.rowcount)

    def drop_expired_invites(self, now: datetime) -> int:
        """Remove codes past their expiry; returns how many went."""
        result = self._connection.execute(
            delete(pair_invites).where(pair_invites.c.expires_at < now)
        )
        return int(result.rowcount)

    # ------------------------------------------------------------------ couples

    def couple_of(self, user: UserRef) -> Couple | None:
        """The couple ``user`` belongs to, or None."""
        couple_id = self._connection.execute(_COUPLE_OF_USER, who(user)).scalar()
        return self.get(int(couple_id)) if couple_id is not None else None

    def couple_for_group(self, chat: ChatRef) -> Couple | None:
        """The couple whose linked group is ``chat``, or None."""
        couple_id = self._connection.execute(
            _COUPLE_OF_GROUP, {"platform": chat.platform.value, "chat_id": chat.chat_id}
        ).scalar()
        return self.get(int(couple_id)) if couple_id is not None else None

    def codeword_for_group(self, chat: ChatRef) -> str | None:
        """The confirmed code word of the couple linked to ``chat``, or None (one query)."""
        value = self._connection.execute(
            select(couples.c.codeword).where(
                couples.c.group_platform == chat.platform.value,
                couples.c.group_chat_id == chat.chat_id,
            )
        ).scalar()
        return str(value) if value else None

    def codeword_for_member(self, chat: ChatRef, user: UserRef) -> str | None:
        """The code word of the couple linked to ``chat``, if ``user`` is one of them."""
        value = self._connection.execute(
            select(couples.c.codeword)
            .select_from(couples.join(couple_members, couple_members.c.couple_id == couples.c.id))
            .where(
                couples.c.group_platform == chat.platform.value,
                couples.c.group_chat_id == chat.chat_id,
                couple_members.c.user_id == USER_ID,
            ),
            who(user),
        ).scalar()
        return str(value) if value else None

    def get(self, couple_id: int) -> Couple | None:
        """The couple with ``couple_id``, or None if it is gone or incomplete."""
        row = self._connection.execute(select(couples).where(couples.c.id == couple_id)).first()
        members = self._connection.execute(_MEMBERS, {"couple_id": couple_id}).all()
        if row is None or len(members) != 2:
            return None
        return Couple(
            id=row.id,
            partners=(_partner(members[0]), _partner(members[1])),
            group=_chat(row.group_platform, row.group_chat_id, row.group_thread_id),
            pending_link=_chat(row.link_platform, row.link_chat_id, row.link_thread_id),
            link_by=row.link_by,
            codeword=row.codeword,
            codeword_proposed=row.codeword_proposed,
            codeword_by=row.codeword_by,
            created_at=aware(row.created_at),
        )

    def pair(
        self,
        first: UserRef,
        first_name: str | None,
        second: UserRef,
        second_name: str | None,
        now: datetime,
    ) -> Couple:
        """Make ``first`` and ``second`` a couple; both must be stored and unpaired."""
        ids = [self.member_id(first), self.member_id(second)]
        if ids[0] is None or ids[1] is None:
            raise ValueError("both people must be stored")
        couple_id = self._connection.execute(
            couples.insert().values(created_at=now).returning(couples.c.id)
        ).scalar_one()
        self._connection.execute(
            couple_members.insert(),
            [
                {"couple_id": couple_id, "user_id": ids[0], "name": first_name, "joined_at": now},
                {"couple_id": couple_id, "user_id": ids[1], "name": second_name, "joined_at": now},
            ],
        )
        couple = self.get(couple_id)
        assert couple is not None
        return couple

    def unpair(self, couple_id: int) -> None:
        """End the couple: its members, breaks and ritual rounds go with it."""
        self._connection.execute(delete(couples).where(couples.c.id == couple_id))

    def set_name(self, user: UserRef, name: str | None) -> None:
        """Remember the display name ``user`` last used (for notices), if they are paired."""
        self._connection.execute(
            update(couple_members).where(couple_members.c.user_id == USER_ID).values(name=name),
            who(user),
        )

    # ------------------------------------------------------------------ the group

    def request_link(self, couple_id: int, chat: ChatRef, by_member: int) -> None:
        """Remember that one partner asked to link ``chat``; the other must confirm."""
        self._set(
            couple_id,
            link_platform=chat.platform.value,
            link_chat_id=chat.chat_id,
            link_thread_id=chat.thread_id,
            link_by=by_member,
        )

    def link(self, couple_id: int, chat: ChatRef, now: datetime) -> None:
        """Tie ``chat`` to the couple (both agreed); any pending request is cleared."""
        self._set(
            couple_id,
            group_platform=chat.platform.value,
            group_chat_id=chat.chat_id,
            group_thread_id=chat.thread_id,
            group_linked_at=now,
            link_platform=None,
            link_chat_id=None,
            link_thread_id=None,
            link_by=None,
        )

    def unlink(self, couple_id: int) -> None:
        """Untie the couple's group (Mend was removed, or they asked)."""
        self._set(
            couple_id,
            group_platform=None,
            group_chat_id=None,
            group_thread_id=None,
            group_linked_at=None,
            link_platform=None,
            link_chat_id=None,
            link_thread_id=None,
            link_by=None,
        )

    # ------------------------------------------------------------------ the code word

    def propose_codeword(self, couple_id: int, word: str, by_member: int) -> None:
        """Remember a proposed code word; the other partner must confirm it."""
        self._set(couple_id, codeword_proposed=word, codeword_by=by_member)

    def confirm_codeword(self, couple_id: int) -> None:
        """Make the proposed word the couple's code word."""
        self._connection.execute(
            update(couples)
            .where(couples.c.id == couple_id, couples.c.codeword_proposed.is_not(None))
            .values(codeword=couples.c.codeword_proposed, codeword_proposed=None, codeword_by=None)
        )

    def drop_codeword_proposal(self, couple_id: int) -> None:
        """Forget a proposed word that was turned down; the current code word stays."""
        self._set(couple_id, codeword_proposed=None, codeword_by=None)

    def clear_codeword(self, couple_id: int) -> None:
        """Remove the code word and any proposal; ``/pause`` keeps working."""
        self._set(couple_id, codeword=None, codeword_proposed=None, codeword_by=None)

    def _set(self, couple_id: int, **values: object) -> None:
        self._connection.execute(update(couples).where(couples.c.id == couple_id).values(**values))


def _export(connection: Connection, user: UserRef, cipher: Cipher) -> Exported:
    rows: Exported = []
    for row in connection.execute(
        select(pair_invites.c.code, pair_invites.c.created_at, pair_invites.c.used_at).where(
            pair_invites.c.user_id == USER_ID
        ),
        who(user),
    ):
        rows.append(
            {
                "pairing_code": row.code,
                "created_at": iso(row.created_at),
                "used_at": iso(row.used_at),
            }
        )
    couple = connection.execute(
        select(
            couples.c.created_at,
            couples.c.group_platform,
            couples.c.group_linked_at,
            couples.c.codeword,
            couple_members.c.name,
        )
        .select_from(couples.join(couple_members, couple_members.c.couple_id == couples.c.id))
        .where(couple_members.c.user_id == USER_ID),
        who(user),
    ).first()
    if couple is not None:
        rows.append(
            {
                "paired_since": iso(couple.created_at),
                "your_name_in_notices": couple.name,
                "group_platform": couple.group_platform,
                "group_linked_at": iso(couple.group_linked_at),
                "code_word": couple.codeword,
            }
        )
    return rows


def _delete(connection: Connection, user: UserRef) -> int:
    """Deleting a person ends their couple (with its shared rounds) and drops their codes."""
    gone = connection.execute(
        delete(couples).where(couples.c.id.in_(_COUPLE_OF_USER.scalar_subquery())), who(user)
    ).rowcount
    gone += connection.execute(
        delete(pair_invites).where(pair_invites.c.user_id == USER_ID), who(user)
    ).rowcount
    return int(gone)


HOOKS = PersonalDataHooks(
    section="couple",
    tables=(couples, couple_members, pair_invites),
    export=_export,
    delete=_delete,
)
"""Pairing's part in export and deletion; nothing here is free text."""
