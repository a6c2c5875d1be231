"""Settings: environment variables (``MAILARK_*``) over a TOML config file over defaults.

The config file is ``$MAILARK_HOME/mailark.toml`` unless ``MAILARK_CONFIG`` names another.
Settings are the only global state the project keeps; everything else is passed explicitly.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from mailark.config.environment import SettingsError, config_file_values, environment_values, merged, refusal


def default_home() -> Path:
    return Path(os.environ.get("MAILARK_HOME") or Path.home() / ".mailark").expanduser()


class S3Settings(BaseModel):
    endpoint: str = "127.0.0.1:9000"
    access_key: str = ""
    secret_key: SecretStr = SecretStr("")
    bucket: str = "mailark"
    secure: bool = True
    region: str | None = None
    cert_check: bool = True


# ---- Microsoft 365 (Graph) mail source -----------------------------------------------------------
class GraphSettings(BaseModel):
    # An extra CA bundle to trust for the identity platform and Graph (a TLS-inspecting proxy, tests).
    ca_file: Path | None = None
    timeout: float = 60.0
    # Throttled (429/503) or unreachable: retry this many times in all, waiting Retry-After (or an
    # exponential backoff from `backoff` seconds when none is given), each wait capped at max_retry_wait.
    max_attempts: int = 6
    max_retry_wait: float = 300.0
    backoff: float = 2.0
    # Messages per delta page (Prefer: odata.maxpagesize); a cursor step is taken per archived page.
    page_size: int = 50
    # Concurrent MIME downloads per mailbox (Exchange Online allows an app 4 per mailbox).
    concurrency: int = 4
# SMTP journal endpoint and SMTP import (sources/journal; README "SMTP journaling and SMTP import").
# Where it listens: smtp_host / smtp_port below (what `mailark up` checks).
class JournalSettings(BaseModel):
    # Default journal addresses are journal@<org>.<domain> (import: import-<name>@<org>.<domain>);
    # point a wildcard MX for *.<domain> at the endpoint. A profile may name its own address instead.
    domain: str = "journal.localhost"
    # The name the endpoint greets with (EHLO/banner); default: this machine's name.
    hostname: str | None = None
    # STARTTLS certificate chain and key (PEM); without them the endpoint offers no TLS and no AUTH.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Refuse MAIL/RCPT until STARTTLS (for endpoints reachable from the internet).
    require_tls: bool = False
    # Largest message accepted (SIZE extension; 552 beyond it). Exchange Online journal reports go up to 150 MB.
    max_message_bytes: int = 160 * 1024 * 1024
    # How long the endpoint trusts what it read: storage used vs quota, and the address table.
    quota_cache_seconds: float = 5.0
    routes_cache_seconds: float = 5.0
    # Threads that seal and fsync accepted messages (the fsync is the cost of a 250).
    writer_threads: int = 4
    # Password guessing: after this many failed AUTHs from one IP address, AUTH is refused (454)
    # for that address until the window has passed.
    auth_max_failures: int = 5
    auth_window_seconds: float = 600.0
class UsagePortalSettings(BaseModel):
    """The business portal that receives daily usage reports (JSON over HTTPS); unset: reports wait in the outbox."""

    url: str | None = None
    token: SecretStr = SecretStr("")
    timeout_seconds: float = 10.0
    backoff_seconds: float = 60.0
    backoff_max_seconds: float = 6 * 3600.0
    ca_file: Path | None = None


# ---- Full-text search (tantivy, an index per organization under db/search) -----------------------
class SearchSettings(BaseModel):
    # The index writer's memory before it flushes a segment, and its threads (ingest shares the cores).
    writer_heap_mb: int = 64
    threads: int = 1
    # Share the index through the object store (sealed with the organization's key), for a second web
    # replica or a worker on another machine: the indexer publishes each new generation, and every
    # home keeps a local copy in db/search that it refreshes at most every `refresh_seconds` when
    # searched. Off (one machine): the index stays in db/search alone, as before. docs/operators.md.
    shared: bool = False
    refresh_seconds: float = 10.0
    # A rebuild writes an organization's index as one part per `part_documents` copies, at most
    # `max_parts` (0: one per core), and the index-mail flow rebuilds an index that has grown past
    # its parts: a search visits the parts at once, one per core (catalog/search/index.py).
    part_documents: int = Field(default=400_000, ge=1)
    max_parts: int = Field(default=0, ge=0, le=64)


# ---- Where sources may connect (IMAP, LDAP, Microsoft Graph) ------------------------------------------
class SourcesSettings(BaseModel):
    # Networks a source may reach although they are this machine's loopback, link-local (cloud metadata
    # services live there) or otherwise special. Private ranges (an MSP's customer servers) are always
    # allowed; loopback and link-local only when listed here, e.g. ["127.0.0.0/8"] for a local test server.
    allow_networks: list[str] = []
    # How many organizations' due IMAP sources one imap-sync run checks at once (an idle check is a
    # network round trip; one organization's sources always run one after the other).
    parallel: int = Field(default=4, ge=1, le=64)


# ---- The web app's own HTTPS (or a reverse proxy in front: docs/operators.md) ------------------------
class WebSettings(BaseModel):
    # PEM certificate chain and private key: with both, `mailark web` and `mailark up` serve HTTPS.
    tls_cert: Path | None = None
    tls_key: Path | None = None


class BackupSettings(BaseModel):
    """The scheduled backups of the `backup` deployment (operations/backup_schedule.py)."""

    # A directory (local or a mounted share) that gets one generation a day: <destination>/<UTC time>/
    destination: Path | None = None
    # Complete generations kept; older ones are deleted after a new one is complete.
    keep: int = 7
    # Put the master key into the (passphrase-sealed) key room: restore then works with any master key.
    with_master_key: bool = False


class MailSettings(BaseModel):
    """The SMTP relay that sends first-login invitations (operations/invites.py): MAILARK_MAIL__RELAY_HOST, ..."""

    relay_host: str | None = None  # unset: invitations cannot be sent (the one-time password is shown instead)
    relay_port: int = 25
    from_: str = Field("mailark@localhost", alias="from")
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    # The web app's address as users reach it: the set-password link starts with it.
    link_base_url: str = "http://127.0.0.1:8080"
    timeout_seconds: float = 30.0

    model_config = {"populate_by_name": True}


class Settings(BaseModel):
    """Keyword arguments over ``MAILARK_*`` variables over the config file over defaults
    (config/environment.py says how variables are read)."""

    model_config = ConfigDict(extra="ignore", validate_default=True)

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**merged(config_file_values(default_home()), environment_values(type(self)), values))
        except ValidationError as e:
            raise SettingsError(refusal(e)) from None

    home: Path = Field(default_factory=default_home)
    # "local": a directory under $MAILARK_HOME/objects; "s3": MinIO or any S3 (see s3.*).
    object_store: Literal["local", "s3"] = "local"
    s3: S3Settings = Field(default_factory=S3Settings)
    # Immutable storage (WORM), deployment-wide: "governance" or "compliance" writes every message
    # object with an object lock until the retention that applies at ingest ends (docs/retention.md).
    # Only S3 object lock is real WORM; the local store makes files read-only and refuses in code.
    worm: Literal["off", "governance", "compliance"] = "off"
    # With WORM on: the lock of a copy no retention policy covers ("10y"; None: no lock), and how
    # far ahead a legal hold extends the lock of what it holds (renewed by every retention run).
    worm_default_keep: str | None = None
    worm_hold_keep: str = "1y"
    # The master key wraps every organization's keys: base64 of 32 bytes in MAILARK_MASTER_KEY,
    # or a file (created on first use, mode 0600). A KMS takes this place at scale.
    master_key: SecretStr | None = None
    master_key_file: Path | None = None
    # SQLAlchemy URL of the control plane; default: SQLite (WAL) in db/.
    control_url: str | None = None
    # DuckLake catalog: "sqlite" (a file in db/) or a PostgreSQL libpq string "postgres:dbname=...".
    lake_catalog: str | None = None
    # DuckDB memory of a service process (the ingest workers); analysts' own DuckDB is theirs to size.
    lake_memory_limit: str = "256MB"
    # A DuckDB database remembers metadata of every Parquet file it has read (its object and file
    # caches), even of files compaction has since deleted: a long ingest renews its catalogue
    # connection after this many commits, which keeps its memory flat (BENCHMARKS.md, issue 2).
    lake_renew_commits: int = 50
    # Ingest batches: a batch closes at this many messages or bytes, whichever comes first.
    batch_messages: int = 2000
    batch_bytes: int = 64 * 1024 * 1024
    zstd_level: int = 3
    prefect_api_url: str = "http://127.0.0.1:4200/api"
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    # Session cookies carry the Secure flag; turn off only for plain-HTTP development.
    web_secure_cookies: bool = True
    # HTTPS of the web app itself: MAILARK_WEB__TLS_CERT, MAILARK_WEB__TLS_KEY (or [web] in mailark.toml).
    web: WebSettings = Field(default_factory=WebSettings)
    # The SMTP journal endpoint started by `mailark up`.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 2525
    # Microsoft 365 (Graph) mail source: MAILARK_GRAPH__CA_FILE, MAILARK_GRAPH__MAX_RETRY_WAIT, ...
    graph: GraphSettings = Field(default_factory=GraphSettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    # Metering and usage reporting (issue 5): MAILARK_USAGE_PORTAL__URL, __TOKEN (a secret, never logged), ...
    usage_portal: UsagePortalSettings = Field(default_factory=UsagePortalSettings)
    metering_lease_seconds: int = 1800
    # After a cancelled subscription ends, its users may still log in and export for this many days; then
    # the organization is locked read-only and due for deletion (issue 14, docs/lifecycle.md).
    offboarding_grace_days: int = 30
    # A retired archive mailbox stops counting against the mailbox quota this many days after it was
    # retired, or earlier once a finished export covers it (control.retirement, docs/lifecycle.md).
    retired_mailbox_release_days: int = 365

    # ---- export, maintenance, backup (catalog/export.py, operations/exports.py, catalog/maintenance.py) ----
    # Export files are kept this many days, then the nightly maintenance deletes them.
    export_expiry_days: int = 7
    # Export files are sealed in independent blocks of this many bytes (memory per export ~ one block).
    export_block_bytes: int = 1 << 20
    # Progress of an export job is saved (API, Prefect artifact) every this many items.
    export_progress_every: int = 200
    # A job still marked running this long after it started lost its process; maintenance marks it failed.
    export_stale_hours: int = 24
    # Snapshots older than this are expired and their files deleted by the nightly maintenance.
    lake_snapshot_retention_days: int = 7
    # DuckDB memory while compacting (a nightly run of its own; merging a large table needs more than
    # an ingest batch: 256 MB ran out at 1.2 M copies) and the size of the files it writes.
    lake_compaction_memory_limit: str = "1GB"
    lake_target_file_size: str = "64MB"
    # The integrity scrub re-reads every stored object once over this many nights (a slice a night).
    scrub_period_days: int = 30
    # Orphaned objects and catalogue files (no catalogue row names them) older than this are deleted
    # by the nightly maintenance; younger ones may belong to a batch that has not committed yet.
    orphan_grace_days: float = 7
    # Passphrase that encrypts the key-room part of backups (or pass --passphrase-file to the CLI).
    backup_passphrase: SecretStr | None = None
    # Scheduled backups: MAILARK_BACKUP__DESTINATION, MAILARK_BACKUP__KEEP, MAILARK_BACKUP__WITH_MASTER_KEY
    backup: BackupSettings = Field(default_factory=BackupSettings)
    # Full-text search: MAILARK_SEARCH__WRITER_HEAP_MB, MAILARK_SEARCH__THREADS, MAILARK_SEARCH__SHARED,
    # MAILARK_SEARCH__REFRESH_SECONDS
    search: SearchSettings = Field(default_factory=SearchSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)
    # First-login invitations by e-mail (issue 14, section 6): MAILARK_MAIL__RELAY_HOST, __RELAY_PORT, __FROM, ...
    mail: MailSettings = Field(default_factory=MailSettings)

    # ---- derived paths -------------------------------------------------------------------
    @property
    def objects_dir(self) -> Path:
        return self.home / "objects"

    @property
    def db_dir(self) -> Path:
        return self.home / "db"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def prefect_home(self) -> Path:
        return self.db_dir / "prefect"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.db_dir / "master.key"

    @property
    def resolved_control_url(self) -> str:
        return self.control_url or f"sqlite:///{self.db_dir / 'control.sqlite'}"

    @property
    def resolved_lake_catalog(self) -> str:
        return self.lake_catalog or f"sqlite:{self.db_dir / 'lake.sqlite'}"

    def ensure_dirs(self) -> None:
        for d in (self.objects_dir, self.db_dir, self.logs_dir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(self.db_dir, 0o700)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Tests and the CLI's --home option change the environment; forget the cached settings."""
    get_settings.cache_clear()
