"""The durable model. Table names are the domain's words; every timestamp is UTC."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Enum,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from server.core.sessions import SessionStatus, TeachingMethod

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


str16 = Annotated[str, 16]
str32 = Annotated[str, 32]
str64 = Annotated[str, 64]
str100 = Annotated[str, 100]
str200 = Annotated[str, 200]


class Base(DeclarativeBase):
    """Python types map to column types: ``Mapped[datetime]`` is a ``UTCDateTime`` column,
    ``Mapped[float]`` FLOAT, ``Mapped[Any]`` JSON, ``Mapped[str100]`` VARCHAR(100) (``int``,
    ``bool``: SQLAlchemy's defaults). A column is NOT NULL unless its type is ``X | None``."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        float: Float,  # SQLAlchemy's default for float is Double
        Any: JSON,
        str16: String(16),
        str32: String(32),
        str64: String(64),
        str100: String(100),
        str200: String(200),
    }


intpk = Annotated[int, mapped_column(primary_key=True)]
timestamp = Annotated[datetime, mapped_column(default=utcnow)]
"""A timestamp that is the time the row is inserted unless it is given."""
trainee_fk = Annotated[int, mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"))]
"""A trainee's id; the row is deleted with the trainee."""
session_fk = Annotated[int, mapped_column(ForeignKey("class_sessions.id", ondelete="CASCADE"))]
"""A session's id; the row is deleted with the session."""
program_fk = Annotated[int, mapped_column(ForeignKey("programs.id", ondelete="CASCADE"))]
"""A program's id; the row is deleted with the program."""
site_fk = Annotated[int, mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))]
"""A site's id; the row is deleted with the site."""


class Role(enum.StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    MODERATOR = "moderator"


class SiteKind(enum.StrEnum):
    MAIN = "main"
    SUB = "sub"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(
        cls, name=name, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
    )


class OrgUnit(Base):
    __tablename__ = "org_units"
    id: Mapped[intpk]
    name: Mapped[str100] = mapped_column(unique=True)
    code: Mapped[str32 | None] = mapped_column(unique=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"))
    created_at: Mapped[timestamp]


class Site(Base):
    __tablename__ = "sites"
    id: Mapped[intpk]
    name: Mapped[str100] = mapped_column(unique=True)
    code: Mapped[str32 | None] = mapped_column(unique=True)
    kind: Mapped[SiteKind] = mapped_column(_enum(SiteKind, "site_kind"), default=SiteKind.SUB)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_units.id", ondelete="SET NULL"))
    capacity: Mapped[int] = mapped_column(default=50)
    secret_hash: Mapped[str | None] = mapped_column(String(128))
    secret_issued_at: Mapped[datetime | None]
    created_at: Mapped[timestamp]
    __table_args__ = (CheckConstraint("capacity >= 0", name="capacity_non_negative"),)


class Trainee(Base):
    __tablename__ = "trainees"
    id: Mapped[intpk]
    name: Mapped[str64]
    staff_no: Mapped[str32] = mapped_column(unique=True)
    org_unit_id: Mapped[int] = mapped_column(
        ForeignKey("org_units.id", ondelete="RESTRICT"), index=True
    )
    position: Mapped[str64] = mapped_column(default="")
    is_leader: Mapped[bool] = mapped_column(default=False)
    home_site_id: Mapped[int | None] = mapped_column(
        ForeignKey("sites.id", ondelete="SET NULL"), index=True
    )
    phone: Mapped[str32 | None]
    gender: Mapped[str | None] = mapped_column(String(8))
    join_code_hash: Mapped[str64 | None] = mapped_column(unique=True)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[timestamp]


class User(Base):
    __tablename__ = "users"
    id: Mapped[intpk]
    username: Mapped[str64] = mapped_column(unique=True)
    display_name: Mapped[str100] = mapped_column(default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(_enum(Role, "user_role"))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[timestamp]


class LoginSession(Base):
    """A cookie login of a user or a trainee. Only the token's SHA-256 is kept."""

    __tablename__ = "login_sessions"
    token_hash: Mapped[str64] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    trainee_id: Mapped[trainee_fk | None] = mapped_column(index=True)
    csrf_token: Mapped[str64]
    created_at: Mapped[timestamp]
    expires_at: Mapped[datetime]
    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (trainee_id IS NULL)", name="one_principal"),
    )


class Program(Base):
    __tablename__ = "programs"
    id: Mapped[intpk]
    name: Mapped[str200] = mapped_column(unique=True)
    year: Mapped[int]
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[timestamp]


class ProgramUnit(Base):
    """A thematic unit (专题单元) of a program."""

    __tablename__ = "program_units"
    id: Mapped[intpk]
    program_id: Mapped[int] = mapped_column(
        ForeignKey("programs.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str200]
    seq: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[timestamp]


class Course(Base):
    __tablename__ = "courses"
    id: Mapped[intpk]
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("program_units.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str200]
    lecturer: Mapped[str100] = mapped_column(default="")
    credits: Mapped[float] = mapped_column(default=0.0)
    created_at: Mapped[timestamp]


session_sites = Table(
    "session_sites",
    Base.metadata,
    Column("session_id", ForeignKey("class_sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("site_id", ForeignKey("sites.id", ondelete="RESTRICT"), primary_key=True),
)


class ClassSession(Base):
    """One live occurrence (场次) of a course."""

    __tablename__ = "class_sessions"
    id: Mapped[intpk]
    course_id: Mapped[int] = mapped_column(
        ForeignKey("courses.id", ondelete="RESTRICT"), index=True
    )
    title: Mapped[str200] = mapped_column(default="")
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime]
    teaching_method: Mapped[TeachingMethod] = mapped_column(
        _enum(TeachingMethod, "teaching_method")
    )
    status: Mapped[SessionStatus] = mapped_column(
        _enum(SessionStatus, "session_status"), default=SessionStatus.SCHEDULED
    )
    started_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    created_at: Mapped[timestamp]
    sites: Mapped[list[Site]] = relationship(
        secondary=session_sites, lazy="selectin", order_by=Site.id
    )
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="window_positive"),)


class AuditEntry(Base):
    """Append-only trail of every change: who, when, before, after, why."""

    __tablename__ = "audit_log"
    id: Mapped[intpk]
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str100]
    action: Mapped[str] = mapped_column(String(50))
    entity: Mapped[str] = mapped_column(String(50))
    entity_id: Mapped[str] = mapped_column(String(50))
    before: Mapped[Any] = mapped_column(nullable=True)
    after: Mapped[Any] = mapped_column(nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)


__all__ = [
    "AuditEntry",
    "Base",
    "ClassSession",
    "Course",
    "LoginSession",
    "OrgUnit",
    "Program",
    "ProgramUnit",
    "Role",
    "SessionStatus",
    "Site",
    "SiteKind",
    "TeachingMethod",
    "Trainee",
    "User",
    "session_sites",
    "utcnow",
]
from server.store import attendance_models as _attendance  # noqa: E402,F401
from server.store import completion_models as _completion  # noqa: E402,F401
from server.store import guard_models as _guard  # noqa: E402,F401
from server.store import live_models as _live  # noqa: E402,F401
from server.store import media_models as _media  # noqa: E402,F401
from server.store import qa_models as _qa  # noqa: E402,F401
from server.store import rollcall_models as _rollcall  # noqa: E402,F401
from server.store import selfstudy_models as _selfstudy  # noqa: E402,F401
