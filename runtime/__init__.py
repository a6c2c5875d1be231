"""Wiring from settings: the object store, the catalogue, the control plane and the master key.

The CLI, the flows and (later) the web app all start here, so they run the same code.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from mailark.control.db import open_control, writer
from mailark.control.metering import archiving_paused
from mailark.control.models import Organization
from mailark.control.orgs import get_org, org_keys
from mailark.control.retention import LockPlan, lock_plan
from mailark.control.retirement import retired_ids
from mailark.runtime.memory import release_free_memory
from mailark.config.settings import Settings, get_settings
from mailark.storage.keys import MasterKey, load_master_key
from mailark.storage.objects import ObjectStore, open_store

if TYPE_CHECKING:  # DuckDB and the catalogue are imported when first used: a search or an admin
    import duckdb  # command never opens the lake, and importing them cost its start-up

    from mailark.catalog.archive import OrgArchive
    from mailark.catalog.search.shipping import Shelf


@dataclass
class Runtime:
    settings: Settings
    _commits: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.settings.search.shared:
            from mailark.catalog.search import shipping

            shipping.registry.register(self.settings.db_dir, lambda: self.store, self._search_shelf,
                                       self.settings.search.refresh_seconds)

    def _search_shelf(self, org_id: str) -> Shelf:
        """How this process reads and writes the organization's shared search index (search.shared)."""
        from mailark.catalog.search.shipping import Shelf
        from mailark.storage.crypto import Sealer

        with self.control() as session:
            org = session.get(Organization, org_id)
            if org is None:
                raise LookupError(f"organization {org_id} is not known to the control plane")
            keys = org_keys(session, org, self.master_key)
        return Shelf(self.store, Sealer(org_id, keys.data_key, keys.all_data_keys(), self.settings.zstd_level),
                     keys.name_digest)

    @cached_property
    def store(self) -> ObjectStore:
        return open_store(self.settings)

    @cached_property
    def control(self) -> sessionmaker[Session]:
        self.settings.ensure_dirs()
        return open_control(self.settings.resolved_control_url)

    @cached_property
    def master_key(self) -> MasterKey:
        s = self.settings
        return load_master_key(s.master_key.get_secret_value() if s.master_key else None, s.resolved_master_key_file)

    @cached_property
    def lake(self) -> duckdb.DuckDBPyConnection:
        from mailark.catalog.lake import open_lake

        self.settings.ensure_dirs()
        return open_lake(self.settings, self.store)

    def archive_for(self, org: Organization) -> OrgArchive:
        from mailark.catalog.archive import OrgArchive

        with self.control() as session:
            keys = org_keys(session, org, self.master_key)
            paused = archiving_paused(session, org.id)
            retired = frozenset(retired_ids(session, org.id))
        return OrgArchive(
            org_id=org.id,
            keys=keys,
            store=self.store,
            connection=lambda: self.lake,
            lane=lambda: self.commit_lane(org.id),
            zstd_level=self.settings.zstd_level,
            storage_quota_bytes=org.storage_quota_bytes,
            paused_reason=paused,
            # catalog.search.index.index_dir, without importing tantivy into every process
            index_path=self.settings.db_dir / "search" / org.id,
            expand_quota=lambda needed: self.expand_quota(org.id, needed),
            lock_plan=(lambda: self._lock_plan(org.id)) if self.settings.worm != "off" else None,
            retired_mailboxes=retired,
        )

    def _lock_plan(self, org_id: str) -> LockPlan:
        """WORM: how long to lock what the next batch writes, from the policies of now."""
        with self.control() as session:
            return lock_plan(session, org_id, self.settings.worm_default_keep)

    def expand_quota(self, org_id: str, needed: int) -> int | None:
        """Raise an auto-expanding licence's storage tier until `needed` bytes fit below its warning line
        (audited `licence.auto_expand`, as metering does): the new quota, or None if it did not grow."""
        from mailark.control import licensing

        with self.session(write=True) as s:
            org = s.get(Organization, org_id)
            if org is None:
                return None
            grew = False
            while licensing.auto_expand(s, org, needed, by="ingest") is not None:
                grew = True
            return org.storage_quota_bytes if grew else None

    @contextmanager
    def commit_lane(self, org_id: str) -> Iterator[None]:
        """The organization's commit lane; after every `lake_renew_commits` of them, the next use
        gets a fresh connection. Renewed on the way out, never inside: code that took
        `archive.lake` before entering the lane works on the connection the lane re-attached."""
        from mailark.catalog.lake import catalog_lane

        with catalog_lane(self.settings, org_id, self.lake, self.store):
            yield
        self._commits += 1
        if self._commits % max(1, self.settings.lake_renew_commits) == 0:
            self.renew_lake()

    def renew_lake(self) -> None:
        """Open the next catalogue connection on the next use. The old one is not closed here: a
        caller may still hold it; DuckDB closes it with its last reference (usually this one)."""
        old = self.__dict__.pop("lake", None)
        del old
        release_free_memory()

    def org(self, name: str) -> Organization:
        with self.control() as session:
            return get_org(session, name)

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction; `write=True` when it will write and may race another process."""
        with (writer(self.control) if write else self.control()) as s, s.begin():
            yield s

    def close(self) -> None:
        if "lake" in self.__dict__:
            self.lake.close()
            del self.__dict__["lake"]


def open_runtime(settings: Settings | None = None) -> Runtime:
    return Runtime(settings or get_settings())
