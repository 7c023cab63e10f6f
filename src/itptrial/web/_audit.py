"""The audit trail: append-only entries (who, when in UTC, table, record, old value, new
value, reason), each carrying the hash of the one before it.

An entry's hash is SHA-256 of the canonical JSON of its fields and the previous hash
(a hash chain, as in RFC 6962's log, simplified to a list). Editing an entry breaks its
own hash; removing one breaks the next entry's link; re-chaining every entry after an
edit gives a consistent chain with another head, which the head kept outside the
database (``itptrial audit head``) exposes. Database triggers refuse UPDATE and DELETE
on the table, so tampering needs the database owner's rights in the first place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from itptrial.web._db import AuditEntry, AuditHead, Database

GENESIS = "0" * 64


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def entry_hash(
    entry_id: int,
    at: str,
    username: str,
    table: str,
    record: str,
    old: str | None,
    new: str | None,
    reason: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 of the entry's fields and the previous hash, as canonical JSON."""
    fields = [entry_id, at, username, table, record, old, new, reason, prev_hash]
    text = json.dumps(fields, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def append(
    session: Session,
    username: str,
    table: str,
    record: str,
    old: Any = None,
    new: Any = None,
    reason: str | None = None,
) -> AuditEntry:
    """Chain one entry to the trail, in the caller's transaction (the head row is
    locked until it commits)."""
    head = session.execute(
        select(AuditHead).where(AuditHead.id == 1).with_for_update()
    ).scalar_one()
    entry_id, at = head.last_id + 1, utc_now()
    old_text, new_text = _canonical(old), _canonical(new)
    digest = entry_hash(
        entry_id, at, username, table, record, old_text, new_text, reason, head.hash
    )
    entry = AuditEntry(
        id=entry_id,
        at=at,
        username=username,
        table_name=table,
        record=record,
        old=old_text,
        new=new_text,
        reason=reason,
        prev_hash=head.hash,
        hash=digest,
    )
    session.add(entry)
    head.last_id, head.hash = entry_id, digest
    session.flush()
    return entry


def audit_head(db: Database) -> str:
    """The hash of the last entry (keep it outside the database)."""
    with db.sessions() as session:
        last = session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalar()
        return GENESIS if last is None else last.hash


@dataclass(frozen=True)
class AuditBreak:
    """Where the chain breaks: the entry id (0: the chain as a whole) and why."""

    entry_id: int
    reason: str


def verify_chain(db: Database, head: str | None = None) -> AuditBreak | None:
    """None when every entry's hash is its own, each links to the one before, the ids
    run 1, 2, 3 ... without a gap, and the last hash is ``head`` (when given)."""
    previous, expected_id = GENESIS, 1
    with db.sessions() as session:
        for entry in session.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars():
            if entry.id != expected_id:
                return AuditBreak(expected_id, f"entry {expected_id} is missing")
            if entry.prev_hash != previous:
                return AuditBreak(entry.id, "does not link to the entry before it")
            fields = (entry.at, entry.username, entry.table_name, entry.record)
            digest = entry_hash(entry.id, *fields, entry.old, entry.new, entry.reason, previous)
            if digest != entry.hash:
                return AuditBreak(entry.id, "its content does not match its hash (edited)")
            previous, expected_id = entry.hash, expected_id + 1
    if head is not None and previous != head:
        return AuditBreak(0, f"the chain ends at {previous}, not at the head kept outside ({head})")
    return None
