"""How long a directory sync takes: N Active-Directory-like users in a throw-away OpenLDAP (slapd).

Why: the first sync of a customer creates every user with mailbox, aliases, permission, group
membership and audit events, one savepoint each; later syncs only compare. This measures the read,
the dry run, the first sync and an unchanged sync. Needs slapd (scripts/install-test-deps.sh).

    python -m bench.directory_sync --users 1000 --groups 20
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=1000)
    ap.add_argument("--groups", type=int, default=20)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="mailark-dirbench-"))
    os.environ["MAILARK_HOME"] = str(tmp / "home")
    import ldap3

    from mailark.control.directory_profiles import create_profile, get_profile
    from mailark.sources.directory.sync import SYSTEM, run_named
    from mailark.control.orgs import create_org
    from mailark.config.settings import Settings, reset_settings_cache
    from mailark.runtime import open_runtime
    from tests.peers.openldap import BASE, ROOT_DN, ROOT_PW, SYNC_DN, SYNC_PW, start_openldap

    reset_settings_cache()
    srv = start_openldap(tmp / "slapd")
    try:
        c = ldap3.Connection(ldap3.Server(srv.url, get_info=ldap3.NONE), ROOT_DN, ROOT_PW, auto_bind=True)
        for g in range(args.groups):
            c.add(f"cn=g{g},ou=groups,{BASE}", ["group"], {"cn": f"g{g}", "objectGUID": uuid.uuid4().bytes_le})
        for i in range(args.users):
            c.add(f"cn=u{i},ou=people,{BASE}", ["user"], {
                "cn": f"u{i}", "sn": "x", "userPrincipalName": f"u{i}@example.test", "objectGUID": uuid.uuid4().bytes_le,
                "proxyAddresses": [f"SMTP:u{i}@example.test", f"smtp:u{i}.alias@example.test"],
                "userAccountControl": 512, "memberOf": [f"cn=g{i % args.groups},ou=groups,{BASE}"]})
        rt = open_runtime(Settings())
        with rt.session() as s:
            create_org(s, "bench", rt.master_key, users=args.users + 10, storage_gb=10)
            create_profile(s, SYSTEM, "bench", "ldap", "corp",
                           {"preset": "ad", "url": srv.url, "ca_file": str(srv.ca_file), "bind_dn": SYNC_DN,
                            "base_dn": BASE, "role_map": {"g0": "Reader"}},
                           {"bind_password": SYNC_PW}, rt.master_key, domains=["example.test"])
        for label, dry in (("dry run", True), ("first sync", False), ("unchanged sync", False)):
            t0 = time.perf_counter()
            r = run_named(rt, SYSTEM, "bench", "corp", dry_run=dry)
            print(f"{label}: {r.status}, {len(r.changes)} changes, {time.perf_counter() - t0:.2f} s")
        with rt.session() as s:
            print("last report:", get_profile(s, SYSTEM, "bench", "corp").last_report["message"])
        rt.close()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
