"""Control-plane tables (SQLAlchemy 2). Alembic migrations in `control/migrations` create them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

GB = 1_000_000_000


class Base(DeclarativeBase):
    pass


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The name is the organization's default domain: a-z 0-9 _ -, unique, immutable.
    name: Mapped[str] = mapped_column(String(63), unique=True, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    storage_quota_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False, default=10 * GB)
    active_data_key_id: Mapped[str] = mapped_column(String(16), nullable=False)

    keys: Mapped[list[OrgKey]] = relationship(back_populates="org", cascade="all, delete-orphan")


class OrgKey(Base):
    """A wrapped key; the plaintext key never touches the database."""

    __tablename__ = "org_keys"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    master_key_id: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    org: Mapped[Organization] = relationship(back_populates="keys")


class Mailbox(Base):
    __tablename__ = "mailboxes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), nullable=False)  # user | shared | journal
    primary_address: Mapped[str] = mapped_column(String(320), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

    addresses: Mapped[list[MailboxAddress]] = relationship(back_populates="mailbox", cascade="all, delete-orphan")


class MailboxAddress(Base):
    """Primary and secondary (alias) addresses, unique within an organization."""

    __tablename__ = "mailbox_addresses"
    __table_args__ = (UniqueConstraint("org_id", "address"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    org_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"), index=True)
    mailbox_id: Mapped[str] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), index=True)
    address: Mapped[str] = mapped_column(String(320), nullable=False)
    is_primary: Mapped[bool] = mapped_column(nullable=False, default=False)

    mailbox: Mapped[Mailbox] = relationship(back_populates="addresses")
