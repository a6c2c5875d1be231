"""Archive mailboxes, their aliases and who may read them."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from mailark.cli.common import GroupOpt, JsonOpt, OrgOpt, UserOpt, act, emit, table

mailbox_app = typer.Typer(no_args_is_help=True, help="Archive mailboxes (user, shared, journal).")
alias_app = typer.Typer(no_args_is_help=True, help="Secondary addresses of archive mailboxes.")
perm_app = typer.Typer(no_args_is_help=True, help="Read access to archive mailboxes.")


def register(app: typer.Typer) -> None:
    app.add_typer(mailbox_app, name="mailbox")
    app.add_typer(alias_app, name="alias")
    app.add_typer(perm_app, name="perm")


# ---- mailboxes, aliases, permissions ----------------------------------------------------------------------------


@mailbox_app.command("add")
def mailbox_add(
    address: str, org: OrgOpt,
    kind: Annotated[str, typer.Option("--kind", help="user, shared or journal.")] = "user",
    owner: Annotated[str | None, typer.Option("--owner", help="The user of a user mailbox (gets read access).")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Add an archive mailbox (within the licence's mailbox quota)."""
    from mailark.control.mailboxes import create_mailbox

    mb = act(lambda s, p, rt: create_mailbox(s, p, org, address, kind=kind, owner=owner, display_name=name))
    emit({"id": mb.id, "address": mb.primary_address, "kind": mb.kind}, as_json,
          f"added {mb.kind} archive mailbox {mb.primary_address}")


@mailbox_app.command("list")
def mailbox_list(
    org: OrgOpt,
    sort: Annotated[str, typer.Option("--sort", help="address, size or count (largest first).")] = "address",
    as_json: JsonOpt = False,
) -> None:
    """List archive mailboxes with their aliases, owners, message count and size."""
    from mailark.catalog.mailbox_stats import per_mailbox
    from mailark.cli.common import fail
    from mailark.control.mailboxes import list_mailboxes

    if sort not in ("address", "size", "count"):
        fail(f"--sort {sort!r} is not a sort order: use address, size or count")

    def work(s, p, rt):  # type: ignore[no-untyped-def]
        stats = per_mailbox(rt.archive_for(rt.org(org)))
        rows = []
        for m in list_mailboxes(s, p, org):
            count, size = stats.get(m.id, (0, 0))
            rows.append({**asdict(m), "messages": count, "size_bytes": size, "size": f"{size / 1e6:.1f} MB"})
        return rows

    rows = act(work)
    key = {"size": lambda r: (-r["size_bytes"], r["primary_address"]),
           "count": lambda r: (-r["messages"], r["primary_address"])}.get(sort, lambda r: r["primary_address"])
    rows.sort(key=key)
    for r in rows:
        r["retired"] = f"{r['retired_at']:%Y-%m-%d}" if r["retired_at"] else ""
    emit(rows, as_json, table(rows, "primary_address", "kind", "aliases", "owner", "messages", "size", "retired"))


@alias_app.command("add")
def alias_add(mailbox: str, alias: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Add a secondary address to MAILBOX (unique within the organization)."""
    from mailark.control.mailboxes import add_alias

    act(lambda s, p, rt: add_alias(s, p, org, mailbox, alias))
    how, linked = _relink(org, alias)
    emit({"mailbox": mailbox, "alias": alias, "relink": how, "linked": linked}, as_json,
         f"{alias} now reaches {mailbox}; " + (f"{linked} message(s) already archived for it linked to the mailbox"
                                               if how == "done" else "the relink-alias flow links mail already archived for it"))


def _relink(org: str, address: str) -> tuple[str, int | None]:
    """Link mail already archived for the mailbox's addresses: as a flow run when a Prefect server is up
    ("started"), else here at once ("done", with the count)."""
    from mailark.operations.relink import relink_mailbox, start_flow

    def work(s, p, rt):  # type: ignore[no-untyped-def]
        if start_flow(rt, org, address):
            return "started", None
        return "done", relink_mailbox(rt, org, address, p).linked

    return act(work)  # type: ignore[no-any-return]


@mailbox_app.command("retire")
def mailbox_retire(address: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Retire an archive mailbox: no new mail is archived into it; it stays readable; nothing is deleted."""
    from mailark.control.retirement import retire_mailbox

    v = act(lambda s, p, rt: retire_mailbox(s, p, org, address))
    emit(asdict(v), as_json, f"retired {v.address}: no new mail is archived into it; its mail stays readable. It stops "
                             f"counting against the mailbox quota once a full export covers it (or after the "
                             f"retention period). Open it again with: mailark mailbox unretire {v.address} --org {org}")


@mailbox_app.command("unretire")
def mailbox_unretire(address: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Open a retired archive mailbox to new mail again (it counts against the mailbox quota again)."""
    from mailark.control.retirement import unretire_mailbox

    v = act(lambda s, p, rt: unretire_mailbox(s, p, org, address))
    emit(asdict(v), as_json, f"{v.address} takes new mail again")


@mailbox_app.command("relink")
def mailbox_relink(address: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Link mail already archived for ADDRESS's mailbox (journal copies naming any of its addresses) to it.

    Catalogue rows only: no new content is stored. Runs by itself after `mailark alias add`."""
    from mailark.operations.relink import relink_mailbox

    r = act(lambda s, p, rt: relink_mailbox(rt, org, address, p))
    emit(r.as_dict(), as_json, f"{r.linked} message(s) linked to {r.mailbox} ({r.already} it already held)")


@alias_app.command("remove")
def alias_remove(alias: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Remove a secondary address."""
    from mailark.control.mailboxes import remove_alias

    act(lambda s, p, rt: remove_alias(s, p, org, alias))
    emit({"removed": alias}, as_json, f"removed address {alias}")


@alias_app.command("make-primary")
def alias_make_primary(address: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Make a secondary address its mailbox's primary address."""
    from mailark.control.mailboxes import make_primary

    act(lambda s, p, rt: make_primary(s, p, org, address))
    emit({"primary": address}, as_json, f"{address} is now primary")


@perm_app.command("grant")
def perm_grant(mailbox: str, org: OrgOpt, user: UserOpt = None, group: GroupOpt = None, as_json: JsonOpt = False) -> None:
    """Let a user or group read an archive mailbox."""
    from mailark.control.mailboxes import grant_read

    act(lambda s, p, rt: grant_read(s, p, org, mailbox, user=user, group=group))
    emit({"mailbox": mailbox, "user": user, "group": group}, as_json, f"{user or group} may read {mailbox}")


@perm_app.command("revoke")
def perm_revoke(mailbox: str, org: OrgOpt, user: UserOpt = None, group: GroupOpt = None, as_json: JsonOpt = False) -> None:
    """Take away a user's or group's read access."""
    from mailark.control.mailboxes import revoke_read

    act(lambda s, p, rt: revoke_read(s, p, org, mailbox, user=user, group=group))
    emit({"mailbox": mailbox, "user": user, "group": group}, as_json, f"{user or group} may no longer read {mailbox}")


@perm_app.command("list")
def perm_list(mailbox: str, org: OrgOpt, as_json: JsonOpt = False) -> None:
    """Who may read an archive mailbox (besides the Compliance role)."""
    from mailark.control.mailboxes import list_permissions

    rows = act(lambda s, p, rt: list_permissions(s, p, org, mailbox))
    emit(rows, as_json, "\n".join(rows) or "no permissions (only Compliance reads it)")
