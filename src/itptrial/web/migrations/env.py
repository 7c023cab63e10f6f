"""Alembic environment: migrations run on the connection itptrial hands over
(``itptrial.web._db.upgrade``)."""

from alembic import context

from itptrial.web._db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata)
with context.begin_transaction():
    context.run_migrations()
