"""What the sources need of the runtime handle their caller passes in (`mailark.runtime.Runtime`).

Sources sit above the catalogue and the control plane but never open a runtime themselves: the CLI,
a flow or the SMTP endpoint's server opens one and hands it down. This Protocol names the part of it
they use, so a source module depends on that shape, not on the runtime package.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import duckdb
    from sqlalchemy.orm import Session, sessionmaker

    from mailark.catalog.archive import OrgArchive
    from mailark.config.settings import Settings
    from mailark.control.models import Organization
    from mailark.storage.keys import MasterKey
    from mailark.storage.objects import ObjectStore


class SourceRuntime(Protocol):
    settings: Settings

    @property
    def store(self) -> ObjectStore: ...

    @property
    def master_key(self) -> MasterKey: ...

    @property
    def control(self) -> sessionmaker[Session]: ...

    @property
    def lake(self) -> duckdb.DuckDBPyConnection: ...

    def session(self, *, write: bool = False) -> AbstractContextManager[Session]: ...

    def archive_for(self, org: Organization) -> OrgArchive: ...

    def org(self, name: str) -> Organization: ...

    def close(self) -> None: ...
