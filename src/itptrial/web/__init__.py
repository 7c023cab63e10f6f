"""The web application that runs a trial at its sites (docs/web.md): users and roles,
concealed randomization from a locked list, validated data entry with reasons for
change, live adjudication, electronic signatures and a hash-chained audit trail, on
SQLAlchemy 2 with Alembic migrations (SQLite by default, PostgreSQL by URL).

::

    from itptrial.web import create_app, open_database

    db = open_database("sqlite:///trial.db")       # migrations applied
    app = create_app(db, load_protocol("target020"))  # a FastAPI application
"""

from typing import TYPE_CHECKING

from itptrial.web._audit import AuditBreak, audit_head, verify_chain
from itptrial.web._db import DEFAULT_DB, Database, open_database
from itptrial.web._service import ROLES, ServiceError, add_user, change_user

if TYPE_CHECKING:
    from itptrial.web._app import create_app

__all__ = [
    "DEFAULT_DB",
    "ROLES",
    "AuditBreak",
    "Database",
    "ServiceError",
    "add_user",
    "audit_head",
    "change_user",
    "create_app",
    "open_database",
    "verify_chain",
]


def __getattr__(name: str) -> object:
    if name == "create_app":  # FastAPI loads only when a server is wanted
        from itptrial.web._app import create_app

        return create_app
    raise AttributeError(name)
