"""Durable records: SQLAlchemy 2 (async) over SQLite (default, WAL) or PostgreSQL."""
