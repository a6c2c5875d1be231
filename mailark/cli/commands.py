"""The table of `mailark`'s top-level commands: what `mailark --help` lists without importing them.

Each row names the command, the module under `mailark.cli` whose `register(app)` adds it, and the
one-line help shown on the help page (the first paragraph of the command's docstring or group
help). Order is the order of the help page. A new command or group goes here as well as in its
module; tests/mailark/test_cli_lazy.py fails when the two disagree.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LazyCommand:
    """One top-level command: its name, the module whose `register(app)` adds it, its help line.

    Here rather than in mailark.cli.lazy so that reading the table imports no Typer (`mailark --help`)."""

    name: str
    module: str  # under mailark.cli
    help: str


COMMANDS: tuple[LazyCommand, ...] = (
    LazyCommand("import", "archive", "Archive mail files into an archive mailbox."),
    LazyCommand("export", "archive",
                "Export archived mail as a zip of .eml files with a manifest (exit 3: damaged copies left out)."),
    LazyCommand("stats", "archive", "Messages, copies and bytes of an organization's archive."),
    LazyCommand("sql", "archive", "Run a read-only query over all organizations' catalogue (an operator tool)."),
    LazyCommand("demo", "server",
                "Start the embedded default and the web app, archive sample mail through the import flow, say where "
                "to look."),
    LazyCommand("web", "server",
                "Serve the REST API (OpenAPI at /openapi.json) in the foreground until Ctrl-C; HTTPS with a "
                "certificate."),
    LazyCommand("up", "server",
                "Start the embedded stack (Prefect server and worker, SMTP journal endpoint, web app) until Ctrl-C; "
                "on a node of a larger deployment, only its roles."),
    LazyCommand("status", "server",
                "What `mailark up` runs, whether each part answers, and the last run of each flow."),
    LazyCommand("usage", "usage",
                "Storage, users and archive mailboxes against the licence, as last metered, with warnings."),
    LazyCommand("billing", "usage",
                "Billing records of a calendar month: licensed users and the highest storage quota held, trial "
                "marked."),
    LazyCommand("meter", "usage",
                "Meter now (as the meter-usage flow does every 15 minutes); runs as that flow when a Prefect server "
                "is up."),
    LazyCommand("delete", "compliance",
                "Delete archived copies for good, and whatever only they used (bodies, attachments, headers)."),
    LazyCommand("backup", "backup",
                "Back up the deployment or one organization (`mailark backup DEST`), or check a backup."),
    LazyCommand("restore", "backup",
                "Restore a backup: a deployment's into an empty home, an organization's into one without it (re-run "
                "to finish an interrupted one)."),
    LazyCommand("repair", "backup",
                "Find the organization's damaged or missing objects and catalogue files; put them back from a "
                "backup (exit 1 if any remain)."),
    LazyCommand("scrub", "maintenance",
                "Check stored objects and the catalogue's files now; name the mail any damage affects (exit 1 if "
                "any)."),
    LazyCommand("maintain", "maintenance",
                "Run the nightly maintenance now: compaction, export expiry, scrub, orphan deletion, audit chain "
                "(exit 1 on damage)."),
    LazyCommand("restore-mail", "restore_mail",
                "Restore archived messages into a mailbox through its IMAP or Microsoft 365 source (audited)."),
    LazyCommand("org", "orgs", "Organizations (tenants)."),
    LazyCommand("server", "server", "The embedded Prefect server."),
    LazyCommand("domain", "identity", "Mail domains of an organization."),
    LazyCommand("user", "identity", "Users (they log in as name@domain)."),
    LazyCommand("group", "identity", "Groups of users."),
    LazyCommand("role", "identity", "Roles (Admin, Reader, Compliance, Auditor) of groups or users."),
    LazyCommand("operator", "identity", "MSP operator accounts."),
    LazyCommand("mailbox", "mailboxes", "Archive mailboxes (user, shared, journal)."),
    LazyCommand("alias", "mailboxes", "Secondary addresses of archive mailboxes."),
    LazyCommand("perm", "mailboxes", "Read access to archive mailboxes."),
    LazyCommand("licence", "licence", "An organization's licence (MSP operators)."),
    LazyCommand("audit", "audit", "The audit log."),
    LazyCommand("source", "sources", "Mail sources (IMAP, Microsoft 365, SMTP journal, SMTP import)."),
    LazyCommand("journal", "journal", "SMTP journaling and SMTP import (the journal endpoint)."),
    LazyCommand("directory", "directory", "Directory synchronization (LDAP / Active Directory, Microsoft 365)."),
    LazyCommand("search", "search", "Full-text search: index, rebuild, query."),
    LazyCommand("exports", "exports", "Export jobs kept in the organization's storage."),
    LazyCommand("support", "support", "Support access grants for MSP operators (time-limited, audited)."),
    LazyCommand("retention", "retention", "Retention policies: how long mail is kept, then deleted or reviewed."),
    LazyCommand("hold", "holds", "Legal holds: keep mail of a case whatever retention says."),
    LazyCommand("sign-in", "sign_in", "Sign in with Microsoft (Entra ID) or an OpenID Connect provider."),
)
