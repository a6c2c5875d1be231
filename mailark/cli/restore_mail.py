"""`mailark restore-mail`: put archived messages back into a live mailbox through its source.

Not `mailark restore`, which restores a backup of the whole deployment. The CLI acts as the
deployment operator (as Compliance: any mailbox's mail, into a mailbox it names); the rules and the
work are in operations/restore_mail.py, and every restore is audited as `content.restore`.
"""

from datetime import datetime
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    from mailark.cli.common import JsonOpt, OrgOpt, cli_runtime, emit, guard

    @app.command("restore-mail")
    def restore_mail_cmd(
        org: OrgOpt,
        target: Annotated[str, typer.Option("--target", help="The archive mailbox to restore into (its IMAP or "
                                            "Microsoft 365 source writes the mail).")],
        item: Annotated[list[str] | None, typer.Option("--item", help="An archived message id (repeat).")] = None,
        mailbox: Annotated[list[str] | None, typer.Option("--mailbox", help="Or a selection: these archive "
                                                          "mailboxes (repeat) ...")] = None,
        folder: Annotated[str | None, typer.Option("--folder", help="... this folder and its subfolders ...")] = None,
        date_from: Annotated[datetime | None, typer.Option("--from", help="... messages dated at or after (UTC) ...")] = None,
        date_to: Annotated[datetime | None, typer.Option("--to", help="... messages dated before (UTC).")] = None,
        into_folder: Annotated[str, typer.Option("--into-folder", help="The folder of the target mailbox "
                                                 "(created when missing).")] = "Restored",
        as_json: JsonOpt = False,
    ) -> None:
        """Restore archived messages into a mailbox through its IMAP or Microsoft 365 source (audited)."""
        from datetime import UTC

        from mailark.control.principals import Principal
        from mailark.operations.restore_mail import RestoreRequest, restore_mail

        utc = lambda d: d.replace(tzinfo=UTC) if d and d.tzinfo is None else d  # noqa: E731
        req = RestoreRequest(item_ids=tuple(item) if item else None, mailboxes=tuple(mailbox) if mailbox else None,
                             folder=folder, date_from=utc(date_from), date_to=utc(date_to), target=target,
                             into_folder=into_folder)
        rt = cli_runtime()
        try:
            result = guard(lambda: restore_mail(rt, Principal.deployment_operator(), org, req))
        finally:
            rt.close()
        doc = result.as_dict()
        text = (f"{result.restored} of {result.selected} message(s) restored into {result.target}, folder "
                f"{result.folder!r}, through source {result.source!r} ({result.kind})")
        for f in result.failed:
            text += f"\n  not restored: {f['item_id']}: {f['reason']}"
        if result.error:
            text += f"\n  stopped: {result.error}"
        emit(doc, as_json, text)
        if result.status != "done":
            raise typer.Exit(1)
