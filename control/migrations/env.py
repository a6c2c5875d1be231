"""Alembic environment: the URL comes from the caller (control.db), never from an ini file."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from mailark.control.models import Base

config = context.config
target_metadata = Base.metadata

connectable = config.attributes.get("connection")
if connectable is None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
    ).connect()

context.configure(connection=connectable, target_metadata=target_metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
