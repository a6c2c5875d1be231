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
