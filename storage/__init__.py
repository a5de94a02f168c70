"""Storage: SQLModel models, migrations and the queries the conversation needs.

This package is the only place that speaks SQL. ``Store`` is its front door.
"""

from storage.db import (
    connection_died,
    create_db_engine,
    database_unavailable,
    database_url,
    migrate,
)
from storage.store import Store

__all__ = [
    "Store",
    "connection_died",
    "create_db_engine",
    "database_unavailable",
    "database_url",
    "migrate",
]
