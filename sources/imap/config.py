"""What an IMAP source profile holds: `config` (stored as JSON, no secrets) and its secret.

One account (`mode="account"`): `username` logs in and `mailbox` is the archive mailbox it fills.
Whole server (`mode="server"`): `username` is an admin (Dovecot master user) that logs in as each
listed account (`accounts`), or as every user archive mailbox of the organization
(`all_user_mailboxes`); each account fills the archive mailbox of the same address.
"""

from __future__ import annotations

import fnmatch
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from mailark.control.orgs import ControlError
from mailark.control.trust import check_ca_pem

DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "plain": 143}


class ImapConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = Field(min_length=1)
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Literal["ssl", "starttls", "plain"] = "ssl"
    verify_cert: bool = True
    # The CA (or the self-signed certificate) to trust for this server, as PEM text (mailark.control.trust).
    ca_pem: str | None = None
    # Before ca_pem: a PEM file on the archive's server; honoured where stored, set only by the deployment operator.
    ca_file: str | None = None
    username: str = Field(min_length=1)
    auth: Literal["password", "xoauth2"] = "password"
    # Folder paths ("/"-separated, e.g. "INBOX", "Work/*") to archive and to leave out (fnmatch).
    include: list[str] = Field(default_factory=lambda: ["*"])
    exclude: list[str] = Field(default_factory=list)
    mode: Literal["account", "server"] = "account"
    # account mode: the archive mailbox (address) this account fills.
    mailbox: str | None = None
    # server mode: the accounts (their IMAP login = archive mailbox address) ...
    accounts: list[str] = Field(default_factory=list)
    # ... or every user archive mailbox of the organization.
    all_user_mailboxes: bool = False
    # How the server joins account and admin in one login (Dovecot: "user*master").
    master_separator: str = "*"
    # Stable server ids for folders and messages (RFC 8474 OBJECTID, or Dovecot's X-GUID):
    # "auto" uses them where offered; "off" matches by UIDVALIDITY and Message-ID + size only.
    stable_ids: Literal["auto", "off"] = "auto"
    timeout: float = Field(default=60.0, gt=0)
    # Messages fetched per archive batch (bounded memory); a batch also closes at batch_bytes.
    batch_messages: int = Field(default=500, ge=1)
    batch_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)

    @field_validator("host")
    @classmethod
    def _host(cls, v: str) -> str:
        v = v.strip()
        if any(c in v for c in " /\\"):
            raise ValueError("a host name or address, without scheme or path (e.g. imap.example.com)")
        return v

    @field_validator("ca_pem")
    @classmethod
    def _ca_pem(cls, v: str | None) -> str | None:
        if not v:
            return None
        try:
            return check_ca_pem(v)
        except ControlError as e:
            raise ValueError(str(e)) from None

    @model_validator(mode="after")
    def _mode(self) -> ImapConfig:
        if self.mode == "account" and not self.mailbox:
            raise ValueError("an account source needs `mailbox`: the archive mailbox address it fills")
        if self.mode == "server" and not (self.accounts or self.all_user_mailboxes):
            raise ValueError("a whole-server source needs `accounts` (addresses) or `all_user_mailboxes`")
        if self.mode == "server" and self.auth != "password":
            raise ValueError("whole-server mode logs in as each account with the admin's password (auth=password)")
        return self

    @property
    def resolved_port(self) -> int:
        return self.port or DEFAULT_PORTS[self.security]

    @property
    def endpoint(self) -> str:
        return f"{self.host}:{self.resolved_port} ({self.security})"

    def login_for(self, account: str | None) -> str:
        """The login name: the account itself, or account + separator + admin in server mode."""
        if self.mode == "server" and account is not None:
            return f"{account}{self.master_separator}{self.username}"
        return self.username

    def wants(self, path: str) -> bool:
        """Whether a folder (its "/"-separated path) is archived; INBOX matches in any case."""
        return any(_match(path, p) for p in self.include) and not any(_match(path, p) for p in self.exclude)

    def public(self) -> dict[str, Any]:
        """The JSON stored as the profile's config (defaults left out)."""
        return self.model_dump(mode="json", exclude_defaults=True) | {"host": self.host, "username": self.username}


class ImapSecret(BaseModel):
    """The profile's secret: the password, or an OAuth2 access token for XOAUTH2."""

    model_config = ConfigDict(extra="forbid")

    password: SecretStr | None = None
    token: SecretStr | None = None

    def for_auth(self, auth: str) -> str:
        value = self.token if auth == "xoauth2" else self.password
        if value is None or not value.get_secret_value():
            what = "an OAuth2 access token (token)" if auth == "xoauth2" else "a password"
            raise ValueError(f"the source has no credentials: store {what} for it")
        return value.get_secret_value()

    def stored(self) -> dict[str, str]:
        return {k: v.get_secret_value() for k, v in (("password", self.password), ("token", self.token)) if v is not None}


def _match(path: str, pattern: str) -> bool:
    if path.upper() == "INBOX" or path.upper().startswith("INBOX/"):
        path = "INBOX" + path[5:]
        if pattern.upper() == "INBOX" or pattern.upper().startswith("INBOX/"):
            pattern = "INBOX" + pattern[5:]
    return fnmatch.fnmatchcase(path, pattern)
