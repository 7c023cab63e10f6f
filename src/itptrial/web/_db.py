"""The database: tables (SQLAlchemy 2 declarative), the engine and its transactions.

SQLite (the default) runs in WAL mode with a busy timeout, and every write transaction
starts with ``BEGIN IMMEDIATE``, which takes the write lock at once: two randomizations
can never read the same free slot. Reads (``Database.sessions``) begin deferred and never
take the write lock, so a long export or audit review reads its own snapshot without
holding up data entry; a read session refuses to write. PostgreSQL
(``postgresql+psycopg://``) locks the rows it changes (``SELECT ... FOR UPDATE``) under
UNIQUE constraints. The schema is created by the Alembic migrations in
``itptrial/web/migrations`` (never by ``create_all``), applied by :func:`open_database`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

DEFAULT_DB = "sqlite:///itptrial.db"
MIGRATIONS = Path(__file__).with_name("migrations")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    full_name: Mapped[str | None] = mapped_column(String(128), nullable=True)


class Token(Base):
    __tablename__ = "tokens"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    expires_at: Mapped[str] = mapped_column(String(32))


class LoginFailure(Base):
    __tablename__ = "login_failures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[str] = mapped_column(String(32))


class RandomizationList(Base):
    """The one uploaded list (its presence locks it: a second upload is refused)."""

    __tablename__ = "randomization_lists"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[str] = mapped_column(String(32))
    allocations: Mapped[int] = mapped_column(Integer)


class Slot(Base):
    """One allocation of the list; ``subject_id`` is set once, when it is revealed."""

    __tablename__ = "slots"
    __table_args__ = (UniqueConstraint("stratum", "sequence"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stratum: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer)
    arm: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)


class Subject(Base):
    __tablename__ = "subjects"
    subject_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    site_id: Mapped[str] = mapped_column(String(64), index=True)
    sex: Mapped[str | None] = mapped_column(String(1), nullable=True)
    age: Mapped[int | None] = mapped_column(Integer, nullable=True)
    stratum: Mapped[str | None] = mapped_column(String(64), nullable=True)
    arm: Mapped[str | None] = mapped_column(String(64), nullable=True)
    sequence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    randomization_date: Mapped[str | None] = mapped_column(String(10), nullable=True)
    randomized_in_error: Mapped[bool] = mapped_column(Boolean, default=False)
    error_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    weight_kg: Mapped[float | None] = mapped_column(Float, nullable=True)  # for dosing advice
    screening_count: Mapped[float | None] = mapped_column(Float, nullable=True)  # eligibility
    screening_who_grade: Mapped[int | None] = mapped_column(Integer, nullable=True)


class Record(Base):
    """A row of one of the dataset's tables (data.md) for one subject, as JSON; a
    retraction keeps it, marked, with its reason."""

    __tablename__ = "records"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.subject_id"), index=True)
    table_name: Mapped[str] = mapped_column(String(32))
    data: Mapped[str] = mapped_column(Text)
    retracted: Mapped[bool] = mapped_column(Boolean, default=False)


class Signature(Base):
    __tablename__ = "signatures"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.subject_id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(128))
    meaning: Mapped[str] = mapped_column(String(200))
    signed_at: Mapped[str] = mapped_column(String(32))


class AuditEntry(Base):
    """Append-only (database triggers refuse UPDATE and DELETE); each entry carries the
    hash of the one before it (``itptrial.web._audit``)."""

    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[str] = mapped_column(String(32))
    username: Mapped[str] = mapped_column(String(64))
    table_name: Mapped[str] = mapped_column(String(32))
    record: Mapped[str] = mapped_column(String(64))
    old: Mapped[str | None] = mapped_column(Text, nullable=True)
    new: Mapped[str | None] = mapped_column(Text, nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """One row: the last entry's id and hash. Appending locks it (FOR UPDATE on
    PostgreSQL; SQLite's write lock), so entries are chained one at a time."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


@dataclass
class Database:
    """An open database: its URL, engine and session factories: ``sessions`` for
    reading (refuses to write), :meth:`transaction` for writing."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    writers: sessionmaker[Session]

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction, committed on success, rolled back on any error."""
        with self.writers() as session, session.begin():
            yield session

    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"


WRITE_OPTION = "itptrial_write"  # execution option of the engine that write sessions use


def _sqlite_events(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE for every write transaction,
    BEGIN DEFERRED for reads (SQLAlchemy's documented recipe for pysqlite's own
    transaction handling)."""

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")  # an acknowledged write survives a crash
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        writes = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writes else "BEGIN DEFERRED")


def _read_only(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """A read session that tries to write is a programming error: on SQLite it would
    hold a deferred transaction that cannot safely become a writer."""

    @event.listens_for(sessions, "before_flush")
    def _refuse(session: Session, _context: Any, _instances: Any) -> None:
        raise RuntimeError("a read session cannot write: use Database.transaction()")

    return sessions


def open_database(url: str = DEFAULT_DB, migrate: bool = True) -> Database:
    """The database at ``url``, with the migrations applied (``migrate``)."""
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        _sqlite_events(engine)
    if migrate:
        upgrade(engine)
    writes = engine.execution_options(**{WRITE_OPTION: True})
    return Database(
        url,
        engine,
        _read_only(sessionmaker(engine, expire_on_commit=False)),
        sessionmaker(writes, expire_on_commit=False),
    )


def upgrade(engine: Engine) -> None:
    """Apply every Alembic migration not yet applied."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
