"""`mailark backup [create] DEST [--org ORG]`, `mailark backup verify DIR`, `mailark restore SRC` and
`mailark repair --org ORG --from BACKUP`: see operations/backup.py for the format.

Exit status 0 only when the whole job is done: a backup with anything it could not copy (or that
fails its own check), a backup that verify finds damaged, a repair that leaves anything unrepaired
all end with status 1 and name what is wrong (in the JSON document too, with `--json`).
"""


from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup


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


class _CreateByDefault(TyperGroup):
    """`mailark backup DEST` is `mailark backup create DEST`: the short form stays what it always was."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["create", *args]
        return super().parse_args(ctx, args)


def _problems(names: list[dict[str, Any]], what: str) -> None:
    from mailark.cli.common import err

    for n in names[:50]:
        err.print(f"  {what}: {n['name']}: {n.get('reason', '')}", highlight=False, soft_wrap=True)
    if len(names) > 50:
        err.print(f"  ... and {len(names) - 50} more (--json lists them all)", highlight=False)


def register(app: typer.Typer) -> None:
    from mailark.cli.common import JsonOpt, err, out, print_json, run_with_runtime

    backup_app = typer.Typer(cls=_CreateByDefault, no_args_is_help=True,
                             help="Back up the deployment or one organization (`mailark backup DEST`), or check a backup.")
    app.add_typer(backup_app, name="backup")

    @backup_app.command("create")
    def backup_cmd(
        dest: Annotated[Path, typer.Argument(help="A new (or empty) directory for the backup.")],
        org: Annotated[str | None, typer.Option("--org", help="Only this organization (default: the whole deployment).")] = None,
        passphrase_file: PassOpt = None,
        with_master_key: Annotated[bool, typer.Option("--with-master-key", help="Put the master key into the encrypted "
                                                      "key room (restore then works with any master key).")] = False,
        no_verify: Annotated[bool, typer.Option("--no-verify", help="Skip the check of the finished backup "
                                                "(every copy rebuilt from it); run `mailark backup verify` later.")] = False,
        as_json: JsonOpt = False,
    ) -> None:
        """Back up the control plane, the catalogue and the objects (of one organization or all); exit 1 if anything is missing."""
        from mailark.operations.backup import backup

        secret = _passphrase(passphrase_file)
        summary = run_with_runtime(lambda rt: backup(rt, dest, secret, org_name=org, with_master_key=with_master_key, verify=not no_verify))
        if as_json:
            print_json(summary.as_dict())
        else:
            out.print(f"backed up {summary.scope} into {dest}: {summary.organizations} organizations, "
                      f"{summary.control_rows} control-plane rows, {summary.catalogue_rows} catalogue rows, "
                      f"{summary.objects} objects ({summary.object_bytes:,} bytes), {summary.catalogue_files} catalogue files")
            if summary.verification is not None and summary.verification["ok"]:
                out.print(f"verified: {summary.verification['copies_checked']} copies rebuilt from the backup and "
                          f"checked against their SHA-256")
        if not summary.complete:
            err.print(f"[bold red]error:[/] the backup in {dest} is INCOMPLETE; do not rely on it", highlight=False)
            _problems(summary.not_copied, "not copied")
            _problems((summary.verification or {}).get("damaged", []), "damaged in the backup")
            raise typer.Exit(1)

    @backup_app.command("verify")
    def verify_cmd(
        src: Annotated[Path, typer.Argument(help="A backup directory made by `mailark backup`.")],
        passphrase_file: PassOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Check a backup without restoring it: every object's SHA-256, and every copy rebuilt; exit 1 on damage."""
        from mailark.operations.backup_verify import verify_backup

        secret = _passphrase(passphrase_file)
        report = run_with_runtime(lambda rt: verify_backup(rt, src, secret))
        doc = report.as_dict()
        if as_json:
            print_json(doc)
        else:
            out.print(f"{src}: {report.objects_checked} objects ({report.bytes_checked:,} bytes) and "
                      f"{report.catalogue_files_checked} catalogue files match their SHA-256"
                      + (f"; {report.copies_checked} copies rebuilt and verified" if report.opened_with_keys else
                         f"; copies not rebuilt: {report.not_opened_because}"))
        if not report.ok:
            err.print(f"[bold red]error:[/] the backup in {src} is damaged or incomplete", highlight=False)
            _problems(doc["damaged"], "damaged")
            _problems(report.not_copied, "not copied")
            raise typer.Exit(1)

    @app.command("restore")
    def restore_cmd(
        src: Annotated[Path, typer.Argument(help="A backup directory made by `mailark backup`.")],
        passphrase_file: PassOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Restore a backup: a deployment's into an empty home, an organization's into one without it (re-run to finish an interrupted one)."""
        from mailark.operations.backup import restore

        secret = _passphrase(passphrase_file)
        summary = run_with_runtime(lambda rt: restore(rt, src, secret))
        if as_json:
            print_json(summary.as_dict())
        else:
            out.print(f"restored {summary.organizations} organizations from {src}: {summary.control_rows} control-plane "
                      f"rows, {summary.catalogue_rows} catalogue rows, {summary.objects} objects")

    @app.command("repair")
    def repair_cmd(
        org: Annotated[str, typer.Option("--org", help="Organization name.")],
        src: Annotated[Path, typer.Option("--from", help="A backup of the organization (or the deployment) made here.")],
        passphrase_file: PassOpt = None,
        as_json: JsonOpt = False,
    ) -> None:
        """Find the organization's damaged or missing objects and catalogue files; put them back from a backup (exit 1 if any remain)."""
        from mailark.operations.repair import repair

        secret = _passphrase(passphrase_file)
        report = run_with_runtime(lambda rt: repair(rt, org, src, secret))
        doc = report.as_dict()
        if as_json:
            print_json(doc)
        else:
            out.print(f"{org}: {report.catalogue_files_checked} catalogue files, {report.objects_checked} objects and "
                      f"{report.copies_checked} copies checked; {len(report.found)} damaged or missing, "
                      f"{len(report.repaired)} repaired from {src}")
            for name in report.repaired:
                out.print(f"  repaired: {name}", highlight=False)
        if not report.ok:
            err.print(f"[bold red]error:[/] {len(report.not_repaired)} things of {org} could not be repaired from {src}: "
                      f"repair them from an older or newer backup, or restore the organization", highlight=False)
            _problems(doc["not_repaired"], "not repaired")
            raise typer.Exit(1)
