"""`mailark delete`: compliance deletion of archived copies, with a reason, audited.

The CLI acts as the deployment operator (who holds every role); it shows what matches and asks
before deleting unless --yes.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mailark.cli.common import JsonOpt, OrgOpt, emit, err, fail, usable_home


def register(app: typer.Typer) -> None:
    app.command("delete")(delete)


def delete(
    org: OrgOpt,
    reason: Annotated[str, typer.Option(help="Why the mail is deleted (goes into the audit log).")],
    item: Annotated[list[str] | None, typer.Option("--item", help="An archived copy's item id (repeatable).")] = None,
    mailbox: Annotated[str | None, typer.Option(help="With --message-id: the copies in this mailbox.")] = None,
    message_id: Annotated[str | None, typer.Option("--message-id", help="Message-ID, with angle brackets.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before deleting.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete archived copies for good, and whatever only they used (bodies, attachments, headers)."""
    from mailark.catalog.deletion import delete_copies, find_copies
    from mailark.control.compliance import authorize_deletion, record_deletion
    from mailark.control.mailboxes import require_readable
    from mailark.control.orgs import ControlError
    from mailark.control.principals import Principal
    from mailark.runtime import open_runtime
    from mailark.operations.holds import refuse_held

    if not item and not (mailbox and message_id):
        fail("name the copies: --item ID (repeatable), or --mailbox ADDRESS with --message-id ID")
    p = Principal.deployment_operator()
    rt = open_runtime(usable_home())
    try:
        with rt.session(write=True) as s:
            o = rt.org(org)
            boxes = {require_readable(s, p, o, mailbox).id} if mailbox else None
            archive = rt.archive_for(o)
            copies = find_copies(archive, item_ids=item or None, mailbox_ids=boxes, message_id=message_id)
            authorize_deletion(s, p, o, reason, len(copies))
            refuse_held(rt.settings, s, o, archive, copies)  # a legal hold beats every deletion
            if not yes and not as_json:
                for c in copies:
                    err.print(f"  {c.item_id}  {c.mailbox}/{c.folder}  {c.message_id or '(quarantined)'}  {c.subject or ''}",
                              highlight=False)
                if not typer.confirm(f"delete these {len(copies)} archived copies for good?", err=True):
                    raise typer.Exit(1)
            record_deletion(s, p, o, reason, [{"item_id": c.item_id, "mailbox": c.mailbox, "folder": c.folder,
                                               "message_id": c.message_id} for c in copies])
            result = delete_copies(archive, [c.item_id for c in copies])
    except ControlError as e:
        fail(str(e))
    finally:
        rt.close()
    emit({**result.as_dict(), "item_ids": result.item_ids}, as_json,
          f"deleted {result.copies} archived copies ({result.messages} messages no copy uses any more); "
          f"{result.bytes_freed:,} stored bytes freed")
