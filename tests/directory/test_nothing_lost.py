"""Nothing archived is ever lost by a sync: a deleted user's mailbox and its mail stay, byte for byte."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from sqlalchemy import select

from mailark.catalog.export import export_zip
from mailark.catalog.ingest import BatchWriter, Incoming
from mailark.control.models import Mailbox, User
from mailark.control.principals import Principal
from tests.directory.conftest import DOMAIN, add_profile, make_tenant, sync


def test_deleting_a_user_in_the_directory_keeps_the_mailbox_and_its_mail(rt, directory, corpus: Path,
                                                                          tmp_path: Path) -> None:
    t = make_tenant(rt, "acme", users=5, storage_gb=10)
    add_profile(rt, t.admin, directory.srv, deleted_users="remove")
    directory.ad_user("ann", aliases=("a.smith@example.test",))
    sync(rt)
    with rt.session() as s:
        ann = s.scalar(select(User).where(User.login == f"ann@{DOMAIN}"))
        mb = s.scalar(select(Mailbox).where(Mailbox.owner_user_id == ann.id))
        mailbox_id, address = mb.id, mb.primary_address
    raws = [p.read_bytes() for p in sorted((corpus / "letters").iterdir())[:5]]
    org = rt.org("acme")
    counts = BatchWriter(rt.archive_for(org), "run-1", "test").write(
        [Incoming(r, mailbox_id, address, "INBOX", "test", str(i)) for i, r in enumerate(raws)])
    assert counts.archived == len(raws)

    directory.delete("ann")
    report = sync(rt)
    assert [c.action for c in report.changes] == ["user.remove"] and report.status == "ok", report.message()
    with rt.session() as s:
        assert s.scalar(select(User.id).where(User.login == f"ann@{DOMAIN}")) is None
        mb = s.get(Mailbox, mailbox_id)
        assert mb is not None and mb.owner_user_id is None
        assert {a.address for a in mb.addresses} == {address, "a.smith@example.test"}
        from mailark.control.mailboxes import readable_mailbox_ids

        assert mailbox_id in readable_mailbox_ids(s, Principal.deployment_operator(), "acme")
    n = rt.lake.execute("SELECT count(*) FROM lake.mailbox_items WHERE mailbox_id = ?", [mailbox_id]).fetchone()[0]
    assert n == len(raws)
    out = export_zip(rt.archive_for(org), tmp_path / "ann.zip", mailbox_id=mailbox_id)
    assert out.messages == len(raws)
    with zipfile.ZipFile(out.path) as z:
        got = {hashlib.sha256(z.read(i)).hexdigest() for i in z.namelist() if i.endswith(".eml")}
    assert got == {hashlib.sha256(r).hexdigest() for r in raws}

    # A new person with Ann's old address does not inherit her archive: refused, clearly.
    directory.ad_user("ann2", upn=f"ann@{DOMAIN}")
    report = sync(rt)
    assert report.status == "partial" and "does not inherit" in report.message()
    with rt.session() as s:
        assert s.get(Mailbox, mailbox_id).owner_user_id is None
        assert s.scalar(select(User.id).where(User.login == f"ann@{DOMAIN}")) is None
