"""Journal and SMTP-import profiles: addresses unique on the deployment, admins only, tenants apart,
passwords in the encrypted secret and never in the profile's view or the audit log."""

from __future__ import annotations

import json

import pytest

from mailark.control.orgs import Conflict, ControlError, NotFound
from mailark.sources.journal.profiles import add_import, add_journal, load_routes
from tests.control.conftest import make_tenant
from tests.sources.journal.conftest import DOMAIN


def test_addresses_unique_admin_only_and_secret(jrt) -> None:  # type: ignore[no-untyped-def]
    from mailark.control.models import AuditEvent, SourceProfile
    from sqlalchemy import select

    acme, globex = make_tenant(jrt, "acme"), make_tenant(jrt, "globex")
    with jrt.session() as s:
        view, pw = add_journal(s, acme.admin, "acme", jrt.master_key, DOMAIN, auth_required=True)
        assert view.config == {"address": f"journal@acme.{DOMAIN}", "auth_required": True,
                               "mailbox": f"journal@acme.{DOMAIN}"} and view.has_secret and pw
        with pytest.raises(Conflict, match="is not available"):  # another organization may not take it
            add_journal(s, globex.admin, "globex", jrt.master_key, DOMAIN, address=f"journal@acme.{DOMAIN}")
        with pytest.raises(NotFound):  # an outsider does not even see the organization
            add_journal(s, globex.admin, "acme", jrt.master_key, DOMAIN, name="sneaky")
        with pytest.raises(ControlError, match="12 characters"):
            add_import(s, acme.admin, "acme", jrt.master_key, DOMAIN, mailbox="ann@acme.com", password="short")
        with pytest.raises(Conflict, match="not a journal mailbox"):
            add_import(s, acme.admin, "acme", jrt.master_key, DOMAIN, mailbox=f"journal@acme.{DOMAIN}")
        imp, ipw = add_import(s, acme.admin, "acme", jrt.master_key, DOMAIN, mailbox="ann@acme.com", folder="MailStore")
        routes = load_routes(s, jrt.master_key, DOMAIN)
        assert routes[f"import-import@acme.{DOMAIN}"].check_password(ipw)
        assert not routes[f"import-import@acme.{DOMAIN}"].check_password(pw)
        assert routes[f"import-import@acme.{DOMAIN}"].folder == "MailStore"
        assert ipw not in repr(routes)
        stored = b"".join(p.secret or b"" for p in s.scalars(select(SourceProfile)))
        assert pw.encode() not in stored and ipw.encode() not in stored  # encrypted
        audit = json.dumps([e.details for e in s.scalars(select(AuditEvent))])
        assert "source.create" in {e.action for e in s.scalars(select(AuditEvent))}
        assert pw not in audit and ipw not in audit
