"""German and English for the pages: a small dictionary per language (English is the key itself).

The language comes from `?lang=` (remembered in a cookie), else the browser's Accept-Language.
"""

from __future__ import annotations

from fastapi import Request

LANGS = ("en", "de")
LANG_COOKIE = "mailark_lang"

DE: dict[str, str] = {
    "Log in": "Anmelden",
    "Log out": "Abmelden",
    "Login": "Anmeldename",
    "Password": "Passwort",
    "Code from your authenticator app": "Code aus Ihrer Authenticator-App",
    "Start again": "Neu beginnen",
    "Choose your own password": "Eigenes Passwort wählen",
    "You logged in with a one-time password: choose your own before you continue.":
        "Sie haben sich mit einem Einmalpasswort angemeldet: Wählen Sie zuerst ein eigenes.",
    "Current password": "Aktuelles Passwort",
    "New password": "Neues Passwort",
    "Save": "Speichern",
    "Mail": "Mail",
    "Usage": "Nutzung",
    "Users": "Benutzer",
    "Organizations": "Organisationen",
    "Mailboxes": "Postfächer",
    "messages": "Nachrichten",
    "Search": "Suchen",
    "Newest first": "Neueste zuerst",
    "Oldest first": "Älteste zuerst",
    "By relevance": "Nach Relevanz",
    "results": "Treffer",
    "Date": "Datum",
    "From": "Von",
    "To": "An",
    "Cc": "Cc",
    "Subject": "Betreff",
    "Folder": "Ordner",
    "Size": "Größe",
    "Previous": "Zurück",
    "Next": "Weiter",
    "Page": "Seite",
    "Export selected": "Auswahl exportieren",
    "Export the whole search": "Ganze Suche exportieren",
    "Exports": "Exporte",
    "Export started": "Export gestartet",
    "Status": "Status",
    "Download": "Herunterladen",
    "Download .eml": ".eml herunterladen",
    "Attachments": "Anhänge",
    "Headers": "Kopfzeilen",
    "remote resources were blocked": "externe Inhalte wurden blockiert",
    "Text": "Text",
    "Choose a mailbox or search.": "Wählen Sie ein Postfach oder suchen Sie.",
    "The search index is being built: try again in a minute.":
        "Der Suchindex wird aufgebaut: Versuchen Sie es in einer Minute erneut.",
    "No messages.": "Keine Nachrichten.",
    "Storage": "Speicher",
    "of": "von",
    "licensed users": "lizenzierte Benutzer",
    "Warnings": "Warnungen",
    "No warnings.": "Keine Warnungen.",
    "Storage over time": "Speicher im Zeitverlauf",
    "Not enough history yet for a chart.": "Noch nicht genug Verlauf für ein Diagramm.",
    "At the current growth, storage runs out around": "Beim aktuellen Wachstum ist der Speicher voll um den",
    "Storage is not growing: no end in sight.": "Der Speicher wächst nicht: kein Ende absehbar.",
    "Archiving is paused": "Die Archivierung ist pausiert",
    "last metered": "zuletzt gemessen",
    "not metered yet": "noch nicht gemessen",
    "Add a user": "Benutzer hinzufügen",
    "Display name": "Anzeigename",
    "Roles": "Rollen",
    "with an archive mailbox": "mit Archivpostfach",
    "Add": "Hinzufügen",
    "User added. One-time password:": "Benutzer angelegt. Einmalpasswort:",
    "Refused": "Abgelehnt",
    "active": "aktiv",
    "disabled": "deaktiviert",
    "Not found": "Nicht gefunden",
    "Not allowed": "Nicht erlaubt",
    "Back": "Zurück",
    "Language": "Sprache",
    "Two-factor login": "Zwei-Faktor-Anmeldung",
    "Add this key to your authenticator app, then enter the code it shows.":
        "Fügen Sie diesen Schlüssel Ihrer Authenticator-App hinzu und geben Sie den angezeigten Code ein.",
    "Code": "Code",
    "Confirm": "Bestätigen",
    "Your organization requires two-factor login, or you chose to set it up.":
        "Ihre Organisation verlangt die Zwei-Faktor-Anmeldung, oder Sie möchten sie einrichten.",
    "Set up": "Einrichten",
    "Audit log": "Prüfprotokoll",
    "The hash chain is intact": "Die Hash-Kette ist intakt",
    "The hash chain is broken at event": "Die Hash-Kette ist gebrochen bei Ereignis",
    "events": "Ereignisse",
    "Filter": "Filtern",
    "Show the plan": "Plan anzeigen",
    "Sync now": "Jetzt abgleichen",
    "the plan": "der Plan",
    "Sync": "Abgleich",
    "Not added (licence full)": "Nicht angelegt (Lizenz voll)",
    "Add a journal endpoint": "Journal-Empfang hinzufügen",
    "SMTP AUTH required": "SMTP AUTH verlangt",
    "SMTP password (shown once)": "SMTP-Passwort (nur jetzt sichtbar)",
    "Resume": "Fortsetzen",
    "Export this folder": "Diesen Ordner exportieren",
    "Export this mailbox": "Dieses Postfach exportieren",
    "after": "nach",
    "before": "vor",
    "with attachments": "mit Anhängen",
    "Domains": "Domänen",
    "Licence": "Lizenz",
    "Disable": "Deaktivieren",
    "Enable": "Aktivieren",
    "New one-time password": "Neues Einmalpasswort",
    "Remove TOTP": "TOTP entfernen",
    "Delete": "Löschen",
    "Messages": "Nachrichten",
    "copies": "Kopien",
    "Saved by dedup and compression": "Gespart durch Deduplizierung und Kompression",
    "as received": "wie empfangen",
    "Archived per day (30 days)": "Archiviert pro Tag (30 Tage)",
    "Largest mailboxes": "Größte Postfächer",
    "Most messages": "Meiste Nachrichten",
    "Sources and directory profiles are added with the API or the CLI (their settings differ by kind).":
        "Quellen und Verzeichnisprofile werden über die API oder die CLI angelegt (die Einstellungen hängen von der Art ab).",
    "Groups and roles": "Gruppen und Rollen",
    "Sources": "Quellen",
    "Reason for the deletion (audited)": "Grund der Löschung (wird protokolliert)",
    "Delete for good": "Endgültig löschen",
    "Deleted for good": "Endgültig gelöscht",
    "Add a mailbox": "Postfach hinzufügen",
    "Address": "Adresse",
    "Kind": "Art",
    "Owner": "Besitzer",
    "Aliases": "Aliase",
    "Readers": "Leseberechtigte",
    "Add an alias": "Alias hinzufügen",
    "Let read": "Lesen erlauben",
    "Take away": "Entziehen",
    "Groups": "Gruppen",
    "Add a group": "Gruppe hinzufügen",
    "Name": "Name",
    "Members": "Mitglieder",
    "Add a member": "Mitglied hinzufügen",
    "Assign a role": "Rolle zuweisen",
    "Mail sources": "Mailquellen",
    "Directory profiles": "Verzeichnisprofile",
    "Test connection": "Verbindung testen",
    "Last run": "Letzter Lauf",
    "never": "nie",
    "Done": "Erledigt",
    "Connection works": "Verbindung funktioniert",
    "Connection failed": "Verbindung fehlgeschlagen",
    "Two-factor login is set up: log in again with a code.":
        "Die Zwei-Faktor-Anmeldung ist eingerichtet: Melden Sie sich mit einem Code erneut an.",
    # sources and directory forms
    "Source added": "Quelle hinzugefügt",
    "Edit": "Bearbeiten",
    "Remove": "Entfernen",
    "Cancel": "Abbrechen",
    "Settings": "Einstellungen",
    "No mail sources yet: add one below.": "Noch keine Mailquellen: Fügen Sie unten eine hinzu.",
    "Add a mail source": "Mailquelle hinzufügen",
    "IMAP mailbox": "IMAP-Postfach",
    "One mailbox on an IMAP server, with its own login.": "Ein Postfach auf einem IMAP-Server, mit eigener Anmeldung.",
    "Fetch every (seconds)": "Abrufen alle (Sekunden)",
    "Whole IMAP server (master user)": "Ganzer IMAP-Server (Master-Benutzer)",
    "Every listed account of an IMAP server, through a master user (Dovecot: user*master).":
        "Alle aufgeführten Konten eines IMAP-Servers, über einen Master-Benutzer (Dovecot: user*master).",
    "Master user password": "Passwort des Master-Benutzers",
    "Microsoft 365": "Microsoft 365",
    "A Microsoft 365 tenant through an app registration (Microsoft Graph, application permissions).":
        "Ein Microsoft-365-Mandant über eine App-Registrierung (Microsoft Graph, Anwendungsberechtigungen).",
    "Client secret": "Geheimer Clientschlüssel",
    "SMTP import": "SMTP-Import",
    "An address that archives what is sent to it (with SMTP AUTH) into a mailbox; the password is shown once.":
        "Eine Adresse, die alles an sie Gesendete (mit SMTP AUTH) in ein Postfach archiviert; das Passwort wird einmal angezeigt.",
    "Archive mailbox it fills": "Archivpostfach, das sie füllt",
    "empty: one is made": "leer: wird erzeugt",
    "Journal endpoint": "Journal-Endpunkt",
    "An address for the journal reports of a mail server (Exchange, Microsoft 365, Postfix).":
        "Eine Adresse für die Journalberichte eines Mailservers (Exchange, Microsoft 365, Postfix).",
    "No directory profiles yet: users and groups are managed here.":
        "Noch keine Verzeichnisprofile: Benutzer und Gruppen werden hier verwaltet.",
    "Add a directory profile": "Verzeichnisprofil hinzufügen",
    "LDAP or Active Directory": "LDAP oder Active Directory",
    "Users, their addresses and groups from a directory server, read with a service account.":
        "Benutzer, ihre Adressen und Gruppen von einem Verzeichnisserver, gelesen mit einem Dienstkonto.",
    "Bind password": "Bind-Passwort",
    "Microsoft 365 (Entra ID)": "Microsoft 365 (Entra ID)",
    "Users, shared mailboxes and groups of a Microsoft 365 tenant (application permissions User.Read.All, GroupMember.Read.All).":
        "Benutzer, freigegebene Postfächer und Gruppen eines Microsoft-365-Mandanten "
        "(Anwendungsberechtigungen User.Read.All, GroupMember.Read.All).",
    "Server (host name)": "Server (Hostname)",
    "Port": "Port",
    "empty: 993 for TLS, 143 otherwise": "leer: 993 für TLS, sonst 143",
    "Encryption": "Verschlüsselung",
    "TLS (IMAPS)": "TLS (IMAPS)",
    "none (only on a trusted network)": "keine (nur in einem vertrauenswürdigen Netz)",
    "Check the server's certificate": "Zertifikat des Servers prüfen",
    "CA file on the server (PEM)": "CA-Datei auf dem Server (PEM)",
    "for a private CA or a self-signed certificate": "für eine eigene CA oder ein selbstsigniertes Zertifikat",
    "Master user login": "Anmeldename des Master-Benutzers",
    "Accounts to archive": "Zu archivierende Konten",
    "their logins, one per line; each fills the archive mailbox of the same address":
        "ihre Anmeldenamen, einer pro Zeile; jedes füllt das Archivpostfach derselben Adresse",
    "Every user mailbox of the organization": "Alle Benutzerpostfächer der Organisation",
    "Master user separator": "Trennzeichen für den Master-Benutzer",
    "Dovecot: user*master": "Dovecot: user*master",
    "Folders to archive": "Zu archivierende Ordner",
    "one pattern per line, e.g. INBOX or Work/*": "ein Muster pro Zeile, z. B. INBOX oder Arbeit/*",
    "Folders to leave out": "Auszulassende Ordner",
    "one pattern per line, e.g. Trash or Junk*": "ein Muster pro Zeile, z. B. Trash oder Junk*",
    "Tenant (directory) id": "Mandanten-ID (Verzeichnis-ID)",
    "or the tenant's domain": "oder die Domäne des Mandanten",
    "Application (client) id": "Anwendungs-ID (Client-ID)",
    "Other cloud or endpoint": "Andere Cloud oder anderer Endpunkt",
    "Identity platform URL": "URL der Identitätsplattform",
    "Microsoft Graph URL": "URL von Microsoft Graph",
    "Every user and shared mailbox of the tenant is archived (application permissions Mail.Read, User.Read.All, MailboxSettings.Read).":
        "Alle Benutzer- und freigegebenen Postfächer des Mandanten werden archiviert "
        "(Anwendungsberechtigungen Mail.Read, User.Read.All, MailboxSettings.Read).",
    "Roles from directory groups": "Rollen aus Verzeichnisgruppen",
    "one per line: group name = Reader, Admin, Auditor or Compliance":
        "eine pro Zeile: Gruppenname = Reader, Admin, Auditor oder Compliance",
    "remove (the mailbox stays)": "entfernen (das Postfach bleibt)",
    "keep, disabled": "behalten, deaktiviert",
    "Users deleted in the directory": "Im Verzeichnis gelöschte Benutzer",
    "Users disabled in the directory": "Im Verzeichnis deaktivierte Benutzer",
    "Groups deleted in the directory": "Im Verzeichnis gelöschte Gruppen",
    "remove": "entfernen",
    "keep": "behalten",
    "Sync every (seconds)": "Synchronisieren alle (Sekunden)",
    "Kind of directory": "Art des Verzeichnisses",
    "LDAP (inetOrgPerson, groupOfNames)": "LDAP (inetOrgPerson, groupOfNames)",
    "Server URL": "Server-URL",
    "TLS (LDAPS)": "TLS (LDAPS)",
    "Bind DN (service account)": "Bind-DN (Dienstkonto)",
    "Base DN": "Basis-DN",
    "User filter": "Benutzerfilter",
    "empty: the preset's": "leer: der Standard der Vorlage",
    "Group filter": "Gruppenfilter",
    "Login domain": "Anmeldedomäne",
    "when logins are uid@domain": "wenn Anmeldenamen uid@domäne sind",
    "Mail domains it manages": "Maildomänen, die es verwaltet",
    "separated by spaces": "durch Leerzeichen getrennt",
    "Users log in with their directory password": "Benutzer melden sich mit ihrem Verzeichnispasswort an",
    "Shared mailboxes too": "Auch freigegebene Postfächer",
    "empty: keep the stored one": "leer: das gespeicherte behalten",
    "New client secret": "Neuer geheimer Clientschlüssel",
    "To change the address or the mailbox, remove the source and add it again.":
        "Um Adresse oder Postfach zu ändern, entfernen Sie die Quelle und fügen Sie sie neu hinzu.",
    "New SMTP password": "Neues SMTP-Passwort",
    "at least 12 characters; empty: keep the stored one": "mindestens 12 Zeichen; leer: das gespeicherte behalten",
    "New bind password": "Neues Bind-Passwort",
    "Mail domain it serves": "Maildomäne, die sie bedient",
    "optional: removing the domain removes the source": "optional: mit der Domäne wird die Quelle entfernt",
    "Remove the mail source %s?": "Die Mailquelle %s entfernen?",
    "It stops fetching mail. What it archived stays archived and searchable.":
        "Sie ruft keine Mail mehr ab. Was sie archiviert hat, bleibt archiviert und durchsuchbar.",
    "Remove the directory profile %s?": "Das Verzeichnisprofil %s entfernen?",
    "It stops syncing. The users, groups and mailboxes it synced stay as ordinary ones; its users need a new password to log in.":
        "Es synchronisiert nicht mehr. Die synchronisierten Benutzer, Gruppen und Postfächer bleiben als gewöhnliche; "
        "seine Benutzer brauchen ein neues Passwort zum Anmelden.",
    # licence, tokens, aliases, warnings
    "Your account": "Ihr Konto",
    "Change your password": "Passwort ändern",
    "Set up two-factor login": "Zwei-Faktor-Anmeldung einrichten",
    "Your API tokens": "Ihre API-Tokens",
    "API tokens of the organization's users": "API-Tokens der Benutzer der Organisation",
    "Create an API token": "API-Token erstellen",
    "A token acts exactly as you do, for scripts and other programs.":
        "Ein Token handelt genau wie Sie, für Skripte und andere Programme.",
    "Expires after (days, empty: never)": "Läuft ab nach (Tagen, leer: nie)",
    "Create": "Erstellen",
    "Created": "Erstellt",
    "Last used": "Zuletzt benutzt",
    "Expires": "Läuft ab",
    "expires": "läuft ab",
    "User": "Benutzer",
    "Revoke": "Widerrufen",
    "revoked": "widerrufen",
    "No API tokens yet.": "Noch keine API-Tokens.",
    "Copy this token now: it is shown only this once.": "Kopieren Sie dieses Token jetzt: Es wird nur dieses eine Mal angezeigt.",
    "Send it as the header": "Senden Sie es als Kopfzeile",
    "The token is revoked: it no longer works.": "Das Token ist widerrufen: Es funktioniert nicht mehr.",
    "Change the licence": "Lizenz ändern",
    "Licensed users": "Lizenzierte Benutzer",
    "Mailboxes per user": "Postfächer pro Benutzer",
    "mailboxes per user": "Postfächer pro Benutzer",
    "Storage (GB)": "Speicher (GB)",
    "Grow storage to the next tier at 90 %": "Speicher bei 90 % auf die nächste Stufe erweitern",
    "grows to the next tier at 90 %": "wächst bei 90 % auf die nächste Stufe",
    "in use": "belegt",
    "archive mailboxes in use": "belegte Archivpostfächer",
    "Trial and renewal": "Testphase und Verlängerung",
    "Cancel the trial": "Testphase kündigen",
    "Let the trial expire at its end instead of becoming paid.":
        "Die Testphase endet an ihrem Ende, statt kostenpflichtig weiterzulaufen.",
    "Renew": "Verlängern",
    "Make the licence paid from now on (ends a trial, undoes a cancellation).":
        "Die Lizenz ab jetzt kostenpflichtig machen (beendet eine Testphase, hebt eine Kündigung auf).",
    "The licence is changed; it applies at once.": "Die Lizenz ist geändert; sie gilt sofort.",
    "The licence is renewed: it is paid from now on.": "Die Lizenz ist verlängert: Sie ist ab jetzt kostenpflichtig.",
    "The trial is cancelled: it expires at its end instead of becoming paid.":
        "Die Testphase ist gekündigt: Sie läuft an ihrem Ende aus, statt kostenpflichtig zu werden.",
    "Your MSP operator changes the licence: ask your provider for more users, mailboxes or storage.":
        "Die Lizenz ändert Ihr MSP-Betreiber: Fragen Sie Ihren Anbieter nach mehr Benutzern, Postfächern oder Speicher.",
    "trial": "Testphase",
    "trial ends": "Testphase endet",
    "paid": "bezahlt",
    "expired": "abgelaufen",
    "cancelled": "gekündigt",
    "paused": "pausiert",
    "queued": "wartet",
    "running": "läuft",
    "paused_quota": "pausiert (Speicher voll)",
    "done": "fertig",
    "failed": "fehlgeschlagen",
    "deleted": "gelöscht",
    "Make primary": "Zur Hauptadresse machen",
    "Make this the primary address; the current one stays as an alias":
        "Diese Adresse zur Hauptadresse machen; die bisherige bleibt als Alias erhalten",
    "storage is {percent} % full ({used_gb} GB used of {quota_gb} GB licensed)":
        "Speicher zu {percent} % belegt ({used_gb} von {quota_gb} GB). Erhöhen Sie die Speicherstufe, "
        "bevor die Archivierung pausiert.",
    "storage is full: archiving is paused ({used_gb} GB used of {quota_gb} GB licensed)":
        "Speicher voll: Die Archivierung ist pausiert ({used_gb} von {quota_gb} GB belegt).",
    "all {licensed_users} licensed users are in use": "Alle {licensed_users} lizenzierten Benutzer sind vergeben.",
    "all {mailbox_quota} licensed archive mailboxes are in use":
        "Alle {mailbox_quota} lizenzierten Archivpostfächer sind vergeben.",
    "the trial expires on {date}": "Die Testphase läuft am {date} aus.",
    "the trial becomes paid on {date}": "Die Testphase wird am {date} kostenpflichtig.",
    "storage is full ({used_gb} GB used of {quota_gb} GB licensed): archiving resumes by itself when there is room "
    "(raise the storage tier, or delete mail or exports)":
        "Speicher voll ({used_gb} von {quota_gb} GB belegt): Die Archivierung läuft von selbst weiter, sobald "
        "wieder Platz ist (Speicherstufe erhöhen oder Mails bzw. Exporte löschen).",
    "the trial of '{org}' was cancelled and has ended: archiving resumes when the MSP operator renews the licence "
    "(mailark licence renew --org {org})":
        "Die Testphase von '{org}' wurde gekündigt und ist beendet: Die Archivierung läuft weiter, sobald der "
        "MSP-Betreiber die Lizenz verlängert (mailark licence renew --org {org}).",
    "archiving is paused": "Die Archivierung ist pausiert.",
    "paused: the storage quota of {org} ({quota_bytes} bytes) was reached after {done} of {total} items; nothing "
    "was kept. Raise the quota or delete old exports, then resume export {export_id}":
        "Pausiert: Das Speicherkontingent von {org} ({quota_bytes} Bytes) war nach {done} von {total} Einträgen "
        "erreicht; nichts wurde behalten. Erhöhen Sie das Kontingent oder löschen Sie alte Exporte und setzen Sie "
        "dann Export {export_id} fort.",
    "interrupted: the process writing this export stopped (nothing of it was kept); resume it to run it again":
        "Unterbrochen: Der Prozess, der diesen Export schrieb, wurde beendet (nichts davon wurde behalten); "
        "setzen Sie ihn fort, um ihn erneut auszuführen.",
    # audit pages
    "Deployment audit log": "Prüfprotokoll der Installation",
    "head of the chain": "Kettenende",
    "Action": "Aktion",
    "Target": "Ziel",
    "Target contains": "Ziel enthält",
    "Outcome": "Ergebnis",
    "any": "alle",
    "From date": "Ab Datum",
    "To date": "Bis Datum",
    "Organization": "Organisation",
    "all organizations": "alle Organisationen",
    "Details": "Details",
    "Download as CSV": "Als CSV herunterladen",
    "(all events matching the filter; the download is audited)":
        "(alle Ereignisse, die dem Filter entsprechen; der Download wird protokolliert)",
    "No events match.": "Keine passenden Ereignisse.",
    "Newer": "Neuere",
    "Older": "Ältere",
    # audit checkpoints
    "Verified from event": "Geprüft ab Ereignis",
    "last full verification": "letzte vollständige Prüfung",
    "The last full verification of the hash chain is more than two days old":
        "Die letzte vollständige Prüfung der Hash-Kette ist mehr als zwei Tage alt",
    "The hash chain has never been verified in full": "Die Hash-Kette wurde noch nie vollständig geprüft",
    "changes to events before the last checkpoint are found only by a full verification (the nightly maintenance, "
    "or mailark audit verify).":
        "Änderungen an Ereignissen vor dem letzten Prüfpunkt findet nur eine vollständige Prüfung (die nächtliche "
        "Wartung oder mailark audit verify).",
}
TABLES = {"de": DE}


def language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    if asked in LANGS:
        return asked  # type: ignore[return-value]
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGS:
            return code
    return "en"


def translator(lang: str):  # type: ignore[no-untyped-def]
    table = TABLES.get(lang, {})
    return lambda text: table.get(text, text)
