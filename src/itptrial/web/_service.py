"""What the application does, without HTTP: users and sessions, the randomization list,
enrolment and concealed randomization, data entry with reasons and retractions,
signatures and the live view. Every change is audited in its own transaction.

Errors are :class:`ServiceError` with the HTTP status the API returns.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import secrets
import zipfile
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from itptrial._errors import InputError
from itptrial.data import TABLES, dataset_from_frames
from itptrial.endpoints import adjudicate
from itptrial.protocol import Eligibility, Protocol
from itptrial.web._audit import append, utc_now
from itptrial.web._db import (
    Database,
    LoginFailure,
    RandomizationList,
    Record,
    Signature,
    Slot,
    Subject,
    Token,
    User,
)

ROLES = ("admin", "investigator", "monitor", "statistician")
RECORD_TABLES = ("platelets", "bleeding", "rescue", "adverse_events", "doses", "drug_levels")
TOKEN_HOURS = 12
MAX_FAILURES, FAILURE_WINDOW_MIN = 5, 15  # failed logins per user per window
_HASHER = PasswordHasher()  # argon2id, the library's defaults (RFC 9106)


@dataclass
class ServiceError(Exception):
    status: int
    message: str
    problems: list[dict[str, Any]] = field(default_factory=list)


def _given(text: str | None) -> bool:
    """A reason or meaning with something in it (not empty, not only spaces)."""
    return bool(text and text.strip())


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_user(db: Database, username: str, password: str, role: str, site: str | None,
             by: str = "cli", full_name: str | None = None) -> None:  # fmt: skip
    """A new account (investigators need a site); logged in the audit trail."""
    if role not in ROLES:
        raise ServiceError(400, f"role must be one of {', '.join(ROLES)}; got {role!r}")
    if role == "investigator" and not site:
        raise ServiceError(400, "an investigator needs --site")
    if len(password) < 8:
        raise ServiceError(400, "the password must have at least 8 characters")
    with db.transaction() as s:
        if s.execute(select(User).where(User.username == username)).scalar() is not None:
            raise ServiceError(409, f"user {username!r} exists")
        s.add(User(username=username, password_hash=_HASHER.hash(password), role=role,
                   site_id=site, active=True, full_name=full_name or username))  # fmt: skip
        new = {"role": role, "site_id": site, "full_name": full_name or username}
        append(s, by, "users", username, None, new, "account created")


def change_user(db: Database, username: str, role: str | None = None, active: bool | None = None,
                site: str | None = None, by: str = "cli") -> None:  # fmt: skip
    """Change an account's role (and site) or deactivate it (accounts are never
    deleted); logged with the old and new values. A deactivated account's sessions end."""
    if role is not None and role not in ROLES:
        raise ServiceError(400, f"role must be one of {', '.join(ROLES)}; got {role!r}")
    with db.transaction() as s:
        user = s.execute(select(User).where(User.username == username)).scalar()
        if user is None:
            raise ServiceError(404, f"no user {username!r}")
        old = {"role": user.role, "site_id": user.site_id, "active": user.active}
        user.role = role or user.role
        user.site_id = site if site is not None else user.site_id
        user.active = user.active if active is None else active
        if user.role == "investigator" and not user.site_id:
            raise ServiceError(400, "an investigator needs --site")
        new = {"role": user.role, "site_id": user.site_id, "active": user.active}
        if not user.active:
            s.execute(delete(Token).where(Token.user_id == user.id))
        append(s, by, "users", username, old, new, "account changed")


def _too_many_failures(s: Session, username: str) -> None:
    """429 after 5 wrong passwords (logins or signatures) within 15 minutes."""
    now = dt.datetime.now(dt.UTC)
    since = (now - dt.timedelta(minutes=FAILURE_WINDOW_MIN)).strftime("%Y-%m-%dT%H:%M:%S")
    failures = s.execute(
        select(func.count()).where(LoginFailure.username == username, LoginFailure.at >= since)
    ).scalar_one()
    if failures >= MAX_FAILURES:
        raise ServiceError(429, "too many wrong passwords: try again later")


def _failed(db: Database, username: str) -> None:
    with db.transaction() as s:
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
        s.add(LoginFailure(username=username, at=now))


def logout(db: Database, token: str) -> None:
    """End the session of ``token`` (its row deleted: the cookie alone no longer works)."""
    with db.transaction() as s:
        s.execute(delete(Token).where(Token.token_hash == _hash_token(token)))


def login(db: Database, username: str, password: str) -> str:
    """A bearer token, or 401; more than 5 failures in 15 minutes: 429."""
    now = dt.datetime.now(dt.UTC)
    with db.transaction() as s:
        _too_many_failures(s, username)
        user = s.execute(select(User).where(User.username == username)).scalar()
        try:
            ok = user is not None and user.active and _HASHER.verify(user.password_hash, password)
        except VerificationError:
            ok = False
        if not ok or user is None:
            s.add(LoginFailure(username=username, at=now.strftime("%Y-%m-%dT%H:%M:%S")))
        else:
            token = secrets.token_urlsafe(32)
            expires = (now + dt.timedelta(hours=TOKEN_HOURS)).strftime("%Y-%m-%dT%H:%M:%S")
            s.add(Token(token_hash=_hash_token(token), user_id=user.id, expires_at=expires))
            return token
    raise ServiceError(401, "wrong username or password")


def user_of_token(db: Database, token: str) -> User:
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    with db.sessions() as s:
        row = s.execute(
            select(User)
            .join(Token, Token.user_id == User.id)
            .where(Token.token_hash == _hash_token(token), Token.expires_at > now)
        ).scalar()
    if row is None or not row.active:
        raise ServiceError(401, "not authenticated")
    return row


def require(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise ServiceError(403, f"a {user.role} may not do this")


def _subject(s: Session, user: User, subject_id: str) -> Subject:
    """The subject, if this user may see it (another site's: 404, as if absent)."""
    subject = s.get(Subject, subject_id)
    if subject is None or (user.role == "investigator" and subject.site_id != user.site_id):
        raise ServiceError(404, f"no subject {subject_id!r}")
    return subject


MAX_LIST_BYTES = 5_000_000
SEQUENCE = re.compile(r"[0-9]{1,9}")


def upload_list(db: Database, user: User, content: bytes, protocol: Protocol) -> dict[str, Any]:
    """Store the list of ``itptrial randomize`` (columns sequence, stratum, arm), once.
    The audit entry records that a list of so many allocations was locked, nothing that
    identifies it (its hash would let anyone regenerate a list from a guessed seed and
    compare)."""
    require(user, "admin")
    if len(content) > MAX_LIST_BYTES:
        raise ServiceError(413, f"the list is larger than {MAX_LIST_BYTES:,} bytes")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError(422, "the list is not UTF-8 text") from None
    rows = list(csv.DictReader(io.StringIO(text)))
    problems = []
    if not rows or not {"sequence", "stratum", "arm"} <= set(rows[0]):
        raise ServiceError(422, "expected the CSV of itptrial randomize: sequence, stratum, arm")
    seen = set()
    for line, row in enumerate(rows, start=2):
        if row["arm"] not in protocol.arm_codes:
            problems.append({"line": line, "field": "arm", "message": "not an arm of the protocol"})
        sequence = row["sequence"] or ""
        if not SEQUENCE.fullmatch(sequence) or (row["stratum"], int(sequence)) in seen:
            problems.append({"line": line, "field": "sequence", "message": "bad or repeated"})
        else:
            seen.add((row["stratum"], int(sequence)))
        if not row["stratum"]:
            problems.append({"line": line, "field": "stratum", "message": "empty"})
    if problems:
        raise ServiceError(422, "the list has errors", problems)
    with db.transaction() as s:
        if s.execute(select(RandomizationList)).scalar() is not None:
            raise ServiceError(409, "the randomization list is locked: it was uploaded already")
        digest = hashlib.sha256(content).hexdigest()
        s.add(RandomizationList(sha256=digest, uploaded_by=user.username, uploaded_at=utc_now(),
                                allocations=len(rows)))  # fmt: skip
        for row in rows:
            s.add(Slot(stratum=row["stratum"], sequence=int(row["sequence"]), arm=row["arm"]))
        append(s, user.username, "randomization_lists", "list", None,
               {"allocations": len(rows)}, "list uploaded and locked")  # fmt: skip
    return {"allocations": len(rows), "sha256": digest}


def _strata(s: Session) -> list[str]:
    return list(s.execute(select(Slot.stratum).distinct().order_by(Slot.stratum)).scalars())


def list_strata(db: Database) -> list[str]:
    """The strata of the uploaded list (names only), in order."""
    with db.sessions() as s:
        return _strata(s)


def _stratum(s: Session, subject: Subject, given: str | None) -> str:
    """The stratum to randomize in: the one given, if the list has it; else the list's
    only stratum, or the one named after the subject's site."""
    strata = _strata(s)
    if not strata:
        raise ServiceError(409, "no randomization list has been uploaded")
    if given is not None:
        if given not in strata:
            problems = [{"field": "stratum", "message": f"not a stratum of the list: {given!r}"}]
            raise ServiceError(422, "unknown stratum", problems)
        return given
    if len(strata) == 1:
        return strata[0]
    if subject.site_id in strata:
        return subject.site_id
    message = f"the list has strata {', '.join(sorted(strata))}: give the subject's stratum"
    raise ServiceError(422, message, [{"field": "stratum", "message": "required"}])


# optional numbers at enrolment: types, range, and the 422's detail and field message
ENROLMENT_NUMBERS: dict[str, tuple[Any, float, float, str, str]] = {
    "age": (int, 0, 120, "whole years 0-120", "whole years 0-120"),
    "screening_count": (int | float, 0, 5000, "0-5000", "0-5000 x10^9/L"),
    "screening_who_grade": (int, 0, 4, "0-4", "WHO grade 0-4"),
    "weight_kg": (int | float, 20, 250, "20-250", "20-250 kg"),
}


def enrol(db: Database, user: User, body: dict[str, Any], protocol: Protocol) -> dict[str, Any]:
    require(user, "investigator")
    subject_id, site = str(body.get("subject_id") or ""), str(body.get("site_id") or "")
    if not subject_id or not site:
        raise ServiceError(422, "subject_id and site_id are required",
                           [{"field": "subject_id", "message": "required"}])  # fmt: skip
    if site != user.site_id:
        raise ServiceError(403, f"an investigator of site {user.site_id} may not enrol at {site}")
    sex = body.get("sex")
    if sex not in (None, "M", "F"):
        raise ServiceError(422, "sex must be M or F", [{"field": "sex", "message": "M or F"}])
    for name, (kinds, low, high, detail, hint) in ENROLMENT_NUMBERS.items():
        value = body.get(name)
        if value is not None and (not isinstance(value, kinds) or not low <= value <= high):
            raise ServiceError(422, f"{name} must be {detail}", [{"field": name, "message": hint}])
    age, weight = body.get("age"), body.get("weight_kg")
    count, grade = body.get("screening_count"), body.get("screening_who_grade")
    with db.transaction() as s:
        if s.get(Subject, subject_id) is not None:
            raise ServiceError(409, f"subject {subject_id!r} exists")
        s.add(Subject(subject_id=subject_id, site_id=site, sex=sex, age=age,
                      weight_kg=weight, screening_count=count, screening_who_grade=grade,
                      randomized_in_error=False))  # fmt: skip
        new = {"site_id": site, "sex": sex, "age": age, "weight_kg": weight,
               "screening_count": count, "screening_who_grade": grade}  # fmt: skip
        append(s, user.username, "subjects", subject_id, None, new, "enrolled")
    return {"subject_id": subject_id, "site_id": site, "sex": sex, "age": age, "weight_kg": weight,
            "screening_count": count, "screening_who_grade": grade}  # fmt: skip


def _age_problem(subject: Subject, rules: Eligibility) -> str | None:
    if (rules.min_age is not None or rules.max_age is not None) and subject.age is None:
        return "the protocol limits age: enter the subject's age first"
    if rules.min_age is not None and subject.age is not None and subject.age < rules.min_age:
        return f"younger than the protocol's minimum age {rules.min_age}"
    if rules.max_age is not None and subject.age is not None and subject.age > rules.max_age:
        return f"older than the protocol's maximum age {rules.max_age}"
    return None


def _count_problem(subject: Subject, rules: Eligibility) -> str | None:
    count, grade = subject.screening_count, subject.screening_who_grade
    if count is None:
        return "enter the screening platelet count first"
    if count < rules.count_below:
        return None
    with_bleeding = rules.count_below_with_bleeding
    if with_bleeding is not None and count < with_bleeding:
        if grade is None:
            return f"a count of {count:g} needs the screening WHO bleeding grade"
        if grade >= rules.bleeding_grade:
            return None
        return (
            f"count {count:g} is not below {rules.count_below:g}, and below "
            f"{with_bleeding:g} only with WHO bleeding grade {rules.bleeding_grade} or more"
        )
    return f"screening count {count:g} is not below {rules.count_below:g}"


def _eligibility_problem(subject: Subject, protocol: Protocol) -> tuple[str, str] | None:
    """Why the subject may not be randomized under the protocol's ``[eligibility]``, as
    (field, message) (None: eligible): its age limits, and its count criterion (a
    screening count below ``count_below``, or below ``count_below_with_bleeding`` with
    WHO bleeding of ``bleeding_grade`` or more), the same rules as the virtual
    population's."""
    rules = protocol.eligibility
    if rules is None:
        return None
    for name, check in (("age", _age_problem), ("screening_count", _count_problem)):
        problem = check(subject, rules)
        if problem is not None:
            return name, problem
    return None


def randomize(db: Database, user: User, subject_id: str, stratum: str | None,
              protocol: Protocol) -> dict[str, Any]:  # fmt: skip
    """Reveal the next allocation of the subject's stratum, atomically: the lowest free
    sequence, locked (BEGIN IMMEDIATE on SQLite, FOR UPDATE on PostgreSQL), its subject
    set under a UNIQUE constraint."""
    require(user, "investigator")
    try:
        with db.transaction() as s:
            return _randomize_in(s, user, subject_id, stratum, protocol)
    except IntegrityError:  # a concurrent randomization of the same subject won
        raise ServiceError(409, f"subject {subject_id!r} is randomized already") from None


def _randomize_in(
    s: Session, user: User, subject_id: str, stratum: str | None, protocol: Protocol
) -> dict[str, Any]:
    subject = _subject(s, user, subject_id)
    s.execute(select(Subject).where(Subject.subject_id == subject_id).with_for_update())
    s.refresh(subject)
    if subject.arm is not None:
        raise ServiceError(409, f"subject {subject_id!r} is randomized already")
    ineligible = _eligibility_problem(subject, protocol)
    if ineligible is not None:
        field, problem = ineligible
        problems = [{"field": field, "message": problem}]
        raise ServiceError(422, f"not eligible: {problem}", problems)
    chosen = _stratum(s, subject, stratum)
    slot = s.execute(
        select(Slot)
        .where(Slot.stratum == chosen, Slot.subject_id.is_(None))
        .order_by(Slot.sequence)
        .limit(1)
        .with_for_update()
    ).scalar()
    if slot is None:
        raise ServiceError(409, f"no allocation left in stratum {chosen!r}")
    today = dt.datetime.now(dt.UTC).date().isoformat()
    slot.subject_id = subject_id
    subject.arm, subject.sequence, subject.stratum = slot.arm, slot.sequence, chosen
    subject.randomization_date = today
    s.flush()
    new = {"arm": slot.arm, "sequence": slot.sequence, "stratum": chosen, "date": today}
    append(s, user.username, "randomization", subject_id, None, new, "randomized")
    return {"arm": slot.arm, "sequence": slot.sequence, "randomization_date": today}


def mark_randomized_in_error(db: Database, user: User, subject_id: str, reason: str | None) -> None:
    """Flag a randomized subject "randomized in error" (an investigator of its site, or
    the admin): the arm and the sequence stay, the slot is never reused."""
    require(user, "investigator", "admin")
    if not _given(reason):
        raise ServiceError(
            422, "the flag needs a reason", [{"field": "reason", "message": "required"}]
        )
    with db.transaction() as s:
        subject = _subject(s, user, subject_id)
        if subject.arm is None:
            raise ServiceError(409, f"subject {subject_id!r} is not randomized")
        if subject.randomized_in_error:
            raise ServiceError(409, f"subject {subject_id!r} is flagged already")
        subject.randomized_in_error, subject.error_reason = True, reason
        append(s, user.username, "subjects", subject_id, {"randomized_in_error": False},
               {"randomized_in_error": True}, reason)  # fmt: skip


def _tables(s: Session, subjects: list[Subject], protocol: Protocol) -> dict[str, pl.DataFrame]:
    """The native dataset of ``subjects`` (randomized ones), retractions left out;
    treatment_start_date is the first dose's date (data.md: Day 0 is the first dose)."""
    ids = [x.subject_id for x in subjects if x.arm is not None]
    rows: dict[str, list[dict[str, Any]]] = {t: [] for t in RECORD_TABLES}
    records = s.execute(
        select(Record)
        .where(Record.subject_id.in_(ids), Record.retracted.is_(False))
        .order_by(Record.id)
    ).scalars()
    for r in records:
        rows[r.table_name].append({"subject_id": r.subject_id, **json.loads(r.data)})
    first_dose: dict[str, str] = {}
    for d in rows["doses"]:
        first_dose[d["subject_id"]] = min(first_dose.get(d["subject_id"], d["date"]), d["date"])
    subject_rows = [
        {
            "subject_id": x.subject_id,
            "site_id": x.site_id,
            "arm": x.arm,
            "randomization_date": x.randomization_date,
            "treatment_start_date": first_dose.get(x.subject_id, ""),
            "stratum": x.stratum or "",
            "sex": x.sex or "",
            "age": "" if x.age is None else str(x.age),
        }
        for x in subjects
        if x.arm is not None
    ]
    tables = {"subjects": _frame(subject_rows, TABLES["subjects"])}
    for name in RECORD_TABLES:
        tables[name] = _frame(rows[name], TABLES[name])
    return tables


def _frame(rows: list[dict[str, Any]], table: Any) -> pl.DataFrame:
    columns = [c.name for c in table.columns]
    return pl.DataFrame(
        {c: [("" if row.get(c) is None else str(row.get(c))) for row in rows] for c in columns},
        schema={c: pl.String for c in columns},
    )


def _validated(tables: dict[str, pl.DataFrame], protocol: Protocol, table: str) -> None:
    """The loader's rules and messages (422 naming each field)."""
    try:
        dataset_from_frames(tables, protocol, source="entry")
    except InputError as error:
        problems = [{"field": p.column, "message": p.message} for p in error.problems]
        raise ServiceError(422, f"invalid {table} record", problems) from None


def add_record(db: Database, user: User, subject_id: str, table: str, body: dict[str, Any],
               protocol: Protocol, record_id: int | None = None) -> dict[str, Any]:  # fmt: skip
    """A new record (``record_id`` None) or a change to one (a reason required)."""
    require(user, "investigator")
    if table not in RECORD_TABLES:
        raise ServiceError(404, f"no table {table!r}")
    reason = body.pop("reason", None)
    columns = [c.name for c in TABLES[table].columns if c.name != "subject_id"]
    data = {c: body.get(c) for c in columns}
    with db.transaction() as s:
        subject = _subject(s, user, subject_id)  # rights before content
        unknown = sorted(set(body) - set(columns))
        if unknown:
            problems = [{"field": k, "message": "not a column of " + table} for k in unknown]
            raise ServiceError(422, "unknown fields", problems)
        if subject.arm is None:
            raise ServiceError(409, "randomize the subject before entering data")
        old = None
        if record_id is not None:
            if not _given(reason):
                raise ServiceError(
                    422, "a change needs a reason", [{"field": "reason", "message": "required"}]
                )
            record = _live_record(s, subject_id, table, record_id)
            old = json.loads(record.data)
            record.data = json.dumps(data, sort_keys=True)
        else:
            record = Record(
                subject_id=subject_id,
                table_name=table,
                data=json.dumps(data, sort_keys=True),
                retracted=False,
            )
            s.add(record)
        s.flush()
        _validated(_tables(s, [subject], protocol), protocol, table)
        append(s, user.username, table, str(record.id), old, data, reason or "entered")
        return {"id": record.id, **data}


def _live_record(s: Session, subject_id: str, table: str, record_id: int) -> Record:
    """The subject's record of ``table`` with that id, not retracted (else 404)."""
    record = s.get(Record, record_id)
    if record is None or (record.subject_id, record.table_name) != (subject_id, table):
        raise ServiceError(404, f"no {table} record {record_id}")
    if record.retracted:
        raise ServiceError(404, f"{table} record {record_id} is retracted")
    return record


def retract(
    db: Database, user: User, subject_id: str, table: str, record_id: int, reason: str | None
) -> None:
    require(user, "investigator")
    if not _given(reason):
        raise ServiceError(
            422, "a retraction needs a reason", [{"field": "reason", "message": "required"}]
        )
    with db.transaction() as s:
        _subject(s, user, subject_id)
        record = _live_record(s, subject_id, table, record_id)
        record.retracted = True
        append(s, user.username, table, str(record_id), json.loads(record.data), None, reason)


def sign(db: Database, user: User, subject_id: str, password: str, meaning: str) -> dict[str, Any]:
    """21 CFR 11.50/11.200: the signer re-enters the password; name, time and meaning
    are kept and shown with the records."""
    require(user, "investigator")
    if not _given(meaning):
        raise ServiceError(
            422, "a signature needs its meaning", [{"field": "meaning", "message": "required"}]
        )
    with db.transaction() as s:
        _too_many_failures(s, user.username)
    try:
        _HASHER.verify(user.password_hash, password)
    except VerificationError:
        _failed(db, user.username)  # counted with failed logins: no unlimited guessing
        raise ServiceError(403, "the password does not match: not signed") from None
    name = user.full_name or user.username
    with db.transaction() as s:
        _subject(s, user, subject_id)
        at = utc_now()
        s.add(Signature(subject_id=subject_id, username=user.username, full_name=name,
                        meaning=meaning.strip(), signed_at=at))  # fmt: skip
        new = {"meaning": meaning.strip(), "name": name}
        append(s, user.username, "signatures", subject_id, None, new, "signed")
    return {
        "signed_by": name,
        "username": user.username,
        "signed_at": at,
        "meaning": meaning.strip(),
    }


def subject_view(db: Database, user: User, subject_id: str, protocol: Protocol) -> dict[str, Any]:
    """The subject, its records (with ids and retraction flags), signatures and the
    endpoint engine's current adjudication with its explanation (not the statistician's:
    the export is theirs)."""
    require(user, "admin", "investigator", "monitor")
    with db.sessions() as s:
        subject = _subject(s, user, subject_id)
        records = (
            s.execute(select(Record).where(Record.subject_id == subject_id).order_by(Record.id))
            .scalars()
            .all()
        )
        signatures = (
            s.execute(
                select(Signature).where(Signature.subject_id == subject_id).order_by(Signature.id)
            )
            .scalars()
            .all()
        )
        endpoints = None
        if subject.arm is not None:
            data = dataset_from_frames(_tables(s, [subject], protocol), protocol, source="entry")
            frame = adjudicate(data, protocol)
            endpoints = frame.to_dicts()[0] if frame.height else None
    return {
        "subject_id": subject.subject_id,
        "site_id": subject.site_id,
        "sex": subject.sex,
        "age": subject.age,
        "arm": subject.arm,
        "sequence": subject.sequence,
        "randomization_date": subject.randomization_date,
        "randomized_in_error": subject.randomized_in_error,
        "error_reason": subject.error_reason,
        "weight_kg": subject.weight_kg,
        "screening_count": subject.screening_count,
        "screening_who_grade": subject.screening_who_grade,
        "records": [
            {"id": r.id, "table": r.table_name, "retracted": r.retracted, **json.loads(r.data)}
            for r in records
        ],
        "signatures": [
            {"signed_by": g.full_name, "signed_at": g.signed_at, "meaning": g.meaning}
            for g in signatures
        ],
        "endpoints": endpoints,
        "dosing": dosing_advice(subject, records, protocol),
    }


def export_zip(db: Database, user: User, protocol: Protocol) -> bytes:
    """The native dataset of every randomized subject as a zip of CSV files, byte-stable
    for the same database state (sorted rows, fixed file times)."""
    require(user, "statistician", "admin")
    with db.sessions() as s:
        subjects = s.execute(select(Subject).order_by(Subject.subject_id)).scalars().all()
        tables = _tables(s, list(subjects), protocol)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(tables):
            frame = tables[name]
            if frame.height:
                frame = frame.sort(frame.columns)
            info = zipfile.ZipInfo(f"{name}.csv", date_time=(1980, 1, 1, 0, 0, 0))
            archive.writestr(info, frame.write_csv(), compress_type=zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def visible_subjects(db: Database, user: User) -> list[Subject]:
    """The subjects this user may see: an investigator's own site, everyone's for the
    other roles but the statistician (who exports, and reads no subject)."""
    if user.role == "statistician":
        return []
    with db.sessions() as s:
        query = select(Subject).order_by(Subject.subject_id)
        if user.role == "investigator":
            query = query.where(Subject.site_id == user.site_id)
        return list(s.execute(query).scalars())


def overdue_visits(
    db: Database, subjects: list[Subject], protocol: Protocol
) -> list[dict[str, Any]]:
    """Protocol visits past due with no platelet count within the visit window
    (``visits.jitter_days``, at least 1 day) of their day, from Day 0 (the first dose)."""
    if protocol.visits is None:
        return []
    window = max(1, protocol.visits.jitter_days)
    today = dt.datetime.now(dt.UTC).date()
    out = []
    with db.sessions() as s:
        tables = _tables(s, subjects, protocol)
    counts = tables["platelets"].group_by("subject_id").agg(pl.col("date")).rows()
    dates = {subject: [dt.date.fromisoformat(d) for d in days] for subject, days in counts}
    for row in tables["subjects"].iter_rows(named=True):
        if not row["treatment_start_date"]:
            continue
        day0 = dt.date.fromisoformat(row["treatment_start_date"])
        seen = dates.get(row["subject_id"], [])
        for day in protocol.visits.days:
            due = day0 + dt.timedelta(days=day)
            if due + dt.timedelta(days=window) >= today:
                break
            if not any(abs((d - due).days) <= window for d in seen):
                out.append({"subject_id": row["subject_id"], "day": day, "due": due.isoformat()})
    return out


def audit_entries(db: Database, user: User, filters: dict[str, str]) -> list[Any]:
    """The audit review (monitor, admin): entries filtered by site (its subjects and
    their records), user, table and UTC date range."""
    from itptrial.web._db import AuditEntry

    require(user, "monitor", "admin")
    with db.sessions() as s:
        query = select(AuditEntry).order_by(AuditEntry.id)
        if filters.get("user"):
            query = query.where(AuditEntry.username == filters["user"])
        if filters.get("table"):
            query = query.where(AuditEntry.table_name == filters["table"])
        if filters.get("from"):
            query = query.where(AuditEntry.at >= filters["from"])
        if filters.get("to"):
            query = query.where(AuditEntry.at < filters["to"] + "T99")
        if filters.get("site"):
            ids = list(
                s.execute(
                    select(Subject.subject_id).where(Subject.site_id == filters["site"])
                ).scalars()
            )
            records = [
                str(i)
                for i in s.execute(select(Record.id).where(Record.subject_id.in_(ids))).scalars()
            ]
            query = query.where(
                (
                    AuditEntry.table_name.in_(("subjects", "randomization", "signatures"))
                    & AuditEntry.record.in_(ids)
                )
                | (AuditEntry.table_name.in_(RECORD_TABLES) & AuditEntry.record.in_(records))
            )
        return list(s.execute(query).scalars())


def dosing_advice(subject: Subject, records: Any, protocol: Protocol) -> dict[str, Any] | None:
    """``tdm recommend`` on the subject's doses and troughs, when the subject's arm has a
    trough-guided regimen (None otherwise). Each dose record is that day's dose, given
    twice daily at 08:00 and 20:00 (whole capsules, the odd one in the morning); a day
    without a record between the first and the last is a missed day; a trough is at
    08:00 of its date, before that day's dose; dexamethasone days are the dates of the
    protocol's dexamethasone regimens' doses."""
    guided = [r for r in protocol.regimens.values() if r.tdm is not None and subject.arm in r.arms]
    if not guided:
        return None
    regimen = guided[0]
    if subject.weight_kg is None:
        return {"note": "enter the subject's weight for dosing advice"}
    live = [(r.table_name, json.loads(r.data)) for r in records if not r.retracted]
    doses = {
        d["date"]: float(d["dose_mg"])
        for t, d in live
        if t == "doses" and d["drug"] == regimen.drug and float(d["dose_mg"]) > 0
    }
    troughs = {d["date"]: float(d["trough_ng_ml"]) for t, d in live
               if t == "drug_levels" and d["drug"] == regimen.drug}  # fmt: skip
    steroid = {r.drug for r in protocol.regimens.values() if r.model == "dexamethasone"}
    dex = {d["date"] for t, d in live if t == "doses" and d["drug"] in steroid}
    if not doses or not troughs:
        return {"note": "dosing advice needs at least one dose and one trough"}
    from itptrial.tdm import recommend, regimen_rules, split_daily, twice_daily_history

    rules = regimen_rules(regimen)
    origin = dt.date.fromisoformat(min([*doses, *troughs, *dex]))
    index = {date: (dt.date.fromisoformat(date) - origin).days for date in [*doses, *troughs, *dex]}
    days = max(index[d] for d in doses) + 1
    given = [[0.0, 0.0] for _ in range(days)]
    for date, mg in doses.items():
        morning, evening = split_daily(mg, rules.capsule_mg)
        given[index[date]] = [float(morning), float(evening)]
    history = twice_daily_history(
        np.array(given),
        [index[d] for d in dex],
        [index[d] for d in sorted(troughs)],
        [troughs[d] for d in sorted(troughs)],
    )
    try:
        advice = recommend(
            history, float(subject.weight_kg), rules, "unknown", where=subject.subject_id
        )
    except ValueError as error:  # a history the estimate cannot use: say so, never a 500
        return {"note": f"no dosing advice: {error}"}
    result: dict[str, Any] = advice.as_dict()
    return result
