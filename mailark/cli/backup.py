"""`mailark backup DEST [--org ORG]` and `mailark restore SRC`: see operations/backup.py for the format."""


from pathlib import Path
from typing import Annotated

import typer


def _passphrase(path: Path | None) -> bytes:
    from mailark.config.settings import get_settings

    if path is not None:
        try:
            data = path.read_bytes().strip()
        except OSError as e:
            raise typer.BadParameter(f"cannot read the passphrase file: {e}") from None
        if not data:
            raise typer.BadParameter(f"the passphrase file {path} is empty")
        return data
    configured = get_settings().backup_passphrase
    if configured is None or not configured.get_secret_value():
        from mailark.cli.common import fail

        fail("the key-room part of a backup is encrypted: give a passphrase with --passphrase-file FILE "
              "or MAILARK_BACKUP_PASSPHRASE")
    return configured.get_secret_value().encode()  # type: ignore[union-attr]


PassOpt = Annotated[Path | None, typer.Option("--passphrase-file", help="File holding the passphrase "
                                              "(default: MAILARK_BACKUP_PASSPHRASE).")]


def register(app: typer.Typer) -> None:
    from mailark.cli.common import JsonOpt, cli_runtime, guard, out, print_json

    @app.command("backup")
    def backup_cmd(
        dest: Annotated[Path, typer.Argument(help="A new (or empty) directory for the backup.")],
        org: Annotated[str | None, typer.Option("--org", help="Only this organization (default: the whole deployment).")] = None,
        passphrase_file: PassOpt = None,
        with_master_key: Annotated[bool, typer.Option("--with-master-key", help="Put the master key into the encrypted "
                                                      "key room (restore then works with any master key).")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Back up the control plane, the catalogue and the objects (of one organization or all)."""
        from mailark.operations.backup import backup

        secret = _passphrase(passphrase_file)
        rt = cli_runtime()
        summary = guard(lambda: backup(rt, dest, secret, org_name=org, with_master_key=with_master_key))
        if as_json:
            print_json(summary.as_dict())
        else:
            out.print(f"backed up {summary.scope} into {dest}: {summary.organizations} organizations, "
                      f"{summary.control_rows} control-plane rows, {summary.catalogue_rows} catalogue rows, "
                      f"{summary.objects} objects ({summary.object_bytes:,} bytes)")

    @app.command("restore")
    def restore_cmd(
        src: Annotated[Path, typer.Argument(help="A backup directory made by `mailark backup`.")],
        passphrase_file: PassOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Restore a backup: a deployment's into an empty home, an organization's into one without it."""
        from mailark.operations.backup import restore

        secret = _passphrase(passphrase_file)
        rt = cli_runtime()
        summary = guard(lambda: restore(rt, src, secret))
        if as_json:
            print_json(summary.as_dict())
        else:
            out.print(f"restored {summary.organizations} organizations from {src}: {summary.control_rows} control-plane "
                      f"rows, {summary.catalogue_rows} catalogue rows, {summary.objects} objects")
