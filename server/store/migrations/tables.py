"""The tables a migration creates, declared once: ``create_tables`` builds them (upgrade) and
``drop_tables`` drops them (downgrade), with the same DDL Alembic's autogenerate wrote.

Declared like a SQLAlchemy table, from parts that build their ``sa.Column`` or constraint only
when the migration runs (so one declaration serves any number of runs)::

    Table(
        "class_sessions",
        ID,
        Ref("course_id", "courses", "RESTRICT", index=True),
        Col("starts_at", UTC_TIME, index=True),
        Col("ends_at", UTC_TIME),
        Col("ended_at", UTC_TIME, nullable=True),
        CREATED_AT,
        Check("window_positive", "ends_at > starts_at"),
    )

Columns are NOT NULL unless ``nullable=True``. Constraint and index names follow the models'
naming convention, written out here so that an old migration never changes what it builds
(``tests/store/test_migrations.py`` pins it): ``pk_<table>``, ``fk_<table>_<column>_<target>``,
``uq_<table>_<column>``, ``ck_<table>_<name>``, ``ix_<table>_<column>``. In ``CREATE TABLE``
the checks come first, then the foreign keys (by column), the primary key, the one-column
unique constraints (by column) and the named ones; indexes follow, by name.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic import op

from server.store.models import UTCDateTime

UTC_TIME = UTCDateTime(timezone=True)
"""The type of every timestamp column."""


@dataclass(frozen=True)
class Col:
    """A column; ``primary`` columns make the primary key, in their order."""

    name: str
    type: Any
    nullable: bool = False
    primary: bool = False
    unique: bool = False
    index: bool = False

    def column(self) -> sa.Column[Any]:
        return sa.Column(self.name, self.type, nullable=self.nullable)


@dataclass(frozen=True)
class Ref:
    """An integer column with a foreign key to ``target`` (``table`` for ``table.id``, or
    ``table.column``) and its ON DELETE."""

    name: str
    target: str
    ondelete: str
    nullable: bool = False
    primary: bool = False
    index: bool = False
    unique = False

    def column(self) -> sa.Column[Any]:
        return sa.Column(self.name, sa.Integer(), nullable=self.nullable)

    def foreign_key(self, table: str) -> sa.ForeignKeyConstraint:
        target = self.target if "." in self.target else f"{self.target}.id"
        return sa.ForeignKeyConstraint(
            [self.name],
            [target],
            name=op.f(f"fk_{table}_{self.name}_{target.split('.')[0]}"),
            ondelete=self.ondelete,
        )


@dataclass(frozen=True)
class Check:
    """A check constraint, named ``ck_<table>_<name>``."""

    name: str
    sql: str


class Unique:
    """A unique constraint over several columns, with its own name."""

    def __init__(self, name: str, *columns: str) -> None:
        self.name = name
        self.columns = columns


class Index:
    """An index over several columns, with its own name."""

    def __init__(self, name: str, *columns: str) -> None:
        self.name = name
        self.columns = columns


ID = Col("id", sa.Integer(), primary=True)
CREATED_AT = Col("created_at", UTC_TIME)
UPDATED_AT = Col("updated_at", UTC_TIME)


class Table:
    """What one ``op.create_table`` and its indexes are made of."""

    def __init__(self, name: str, *parts: Col | Ref | Check | Unique | Index) -> None:
        self.name = name
        self.columns = [part for part in parts if isinstance(part, Col | Ref)]
        self.checks = [part for part in parts if isinstance(part, Check)]
        self.uniques = [part for part in parts if isinstance(part, Unique)]
        self.indexes = [part for part in parts if isinstance(part, Index)]

    def _constraints(self) -> list[sa.Constraint]:
        checks: list[sa.Constraint] = [
            sa.CheckConstraint(check.sql, name=op.f(f"ck_{self.name}_{check.name}"))
            for check in self.checks
        ]
        refs = sorted((c for c in self.columns if isinstance(c, Ref)), key=lambda c: c.name)
        primary = [column.name for column in self.columns if column.primary]
        unique = sorted(column.name for column in self.columns if column.unique)
        return [
            *checks,
            *(ref.foreign_key(self.name) for ref in refs),
            sa.PrimaryKeyConstraint(*primary, name=op.f(f"pk_{self.name}")),
            *(sa.UniqueConstraint(name, name=op.f(f"uq_{self.name}_{name}")) for name in unique),
            *(sa.UniqueConstraint(*named.columns, name=named.name) for named in self.uniques),
        ]

    def _indexes(self) -> list[tuple[Any, list[str]]]:
        """(name, columns) of every index, by name: a one-column index's name is ``op.f``'s."""
        named = [(index.name, list(index.columns)) for index in self.indexes]
        single = [
            (op.f(f"ix_{self.name}_{column.name}"), [column.name])
            for column in self.columns
            if column.index
        ]
        return sorted(named + single, key=lambda item: str(item[0]))

    def create(self) -> None:
        op.create_table(
            self.name,
            *(column.column() for column in self.columns),
            *self._constraints(),
        )
        indexes = self._indexes()
        if indexes:
            with op.batch_alter_table(self.name, schema=None) as batch_op:
                for name, columns in indexes:
                    batch_op.create_index(name, columns, unique=False)

    def drop(self) -> None:
        indexes = self._indexes()
        if indexes:
            with op.batch_alter_table(self.name, schema=None) as batch_op:
                for name, _ in reversed(indexes):
                    batch_op.drop_index(name)
        op.drop_table(self.name)


def create_tables(tables: Iterable[Table]) -> None:
    """Upgrade: create the tables in their order."""
    for table in tables:
        table.create()


def drop_tables(tables: Iterable[Table]) -> None:
    """Downgrade: drop the tables in the reverse order."""
    for table in reversed(list(tables)):
        table.drop()
