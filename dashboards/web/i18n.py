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
    "Support access is active": "Support-Zugriff ist aktiv",
    "operator": "Operator",
    "until": "bis",
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
    "Sync anyway": "Trotzdem abgleichen",
    "Stop a sync that removes more users than": "Abgleich anhalten, wenn er mehr Benutzer entfernt als",
    "... or more than this percentage of them": "... oder mehr als diesen Anteil (Prozent)",
    "the plan": "der Plan",
    "Sync": "Abgleich",
    "Not added (licence full)": "Nicht angelegt (Lizenz voll)",
    "Add a journal endpoint": "Journal-Empfang hinzufügen",
    "SMTP AUTH required": "SMTP AUTH verlangt",
    "Sender networks": "Absendernetze",
    "without SMTP AUTH: the networks of your mail servers, e.g. 192.0.2.0/24":
        "ohne SMTP AUTH: die Netze Ihrer Mailserver, z. B. 192.0.2.0/24",
    "SMTP password (shown once)": "SMTP-Passwort (nur jetzt sichtbar)",
    "Resume": "Fortsetzen",
    "Export this folder": "Diesen Ordner exportieren",
    "Export this mailbox": "Dieses Postfach exportieren",
    "after": "nach",
    "before": "vor",
    "with attachments": "mit Anhängen",
    "Domains": "Domänen",
    "Sign-in": "Anmeldung",
    "Sign-in with a provider": "Anmeldung über einen Anbieter",
    "Your users can sign in with their Microsoft account (the tenant your users are synced from) or with another OpenID Connect provider. Two-factor login then comes from the provider.":
        "Ihre Benutzer können sich mit ihrem Microsoft-Konto (aus dem Mandanten, aus dem sie abgeglichen werden) oder "
        "über einen anderen OpenID-Connect-Anbieter anmelden. Die Zwei-Faktor-Anmeldung übernimmt dann der Anbieter.",
    "Link for your users": "Link für Ihre Benutzer",
    "Provider": "Anbieter",
    "Button name": "Name der Schaltfläche",
    "Client id": "Client-ID",
    "Tenant id (Microsoft)": "Mandanten-ID (Microsoft)",
    "empty: the Microsoft 365 directory profile's": "leer: die des Microsoft-365-Verzeichnisprofils",
    "Issuer URL (OpenID Connect)": "Aussteller-URL (OpenID Connect)",
    "Allowed email domains (OpenID Connect)": "Erlaubte E-Mail-Domänen (OpenID Connect)",
    "Match users by (OpenID Connect)": "Benutzer zuordnen über (OpenID Connect)",
    "Redirect URI to register at the provider": "Beim Anbieter einzutragende Weiterleitungs-URI",
    "Sign in with": "Anmelden mit",
    "Your email address": "Ihre E-Mail-Adresse",
    "Sign in with your organization's account": "Mit dem Konto Ihrer Organisation anmelden",
    "You are signed in.": "Sie sind angemeldet.",
    "Continue": "Weiter",
    "sign-in with {provider} is saved": "Die Anmeldung mit {provider} ist gespeichert.",
    "the sign-in provider is removed: users log in with their password":
        "Der Anmeldeanbieter ist entfernt: Die Benutzer melden sich mit ihrem Passwort an.",
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
    "Restore to mailbox": "In Postfach wiederherstellen",
    "Into folder": "In den Ordner",
    "Into mailbox (empty: your own)": "In das Postfach (leer: Ihr eigenes)",
    "{restored} of {selected} message(s) restored into {mailbox}, folder {folder}":
        "{restored} von {selected} Nachricht(en) in {mailbox} wiederhergestellt, Ordner {folder}",
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
    "CA certificate (PEM)": "CA-Zertifikat (PEM)",
    "This address takes mail from anyone. Name the sender networks or require SMTP AUTH: saving either closes it.":
        "Diese Adresse nimmt Mail von jedem an. Nennen Sie die Absendernetze oder verlangen Sie SMTP AUTH: beides schließt sie beim Speichern.",
    "for a private CA or a self-signed certificate: paste it from -----BEGIN CERTIFICATE----- to -----END CERTIFICATE-----":
        "für eine eigene CA oder ein selbstsigniertes Zertifikat: von -----BEGIN CERTIFICATE----- bis -----END CERTIFICATE----- einfügen",
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
    "The subscription is cancelled: it ends at the end of this month; then a grace period for exports, then the "
    "organization is locked and deleted.":
        "Das Abonnement ist gekündigt: Es endet am Ende dieses Monats; danach folgt eine Frist für Exporte, dann wird "
        "die Organisation gesperrt und gelöscht.",
    "the subscription of '{org}' was cancelled and has ended: archiving has stopped (the MSP operator undoes the "
    "cancellation with: mailark licence resume --org {org})":
        "Das Abonnement von '{org}' wurde gekündigt und ist beendet: Die Archivierung ist gestoppt (der MSP-Betreiber "
        "hebt die Kündigung auf mit: mailark licence resume --org {org})",
    "The cancellation is undone: the subscription runs on.": "Die Kündigung ist aufgehoben: Das Abonnement läuft weiter.",
    "Cancel the subscription": "Abonnement kündigen",
    "Undo the cancellation": "Kündigung aufheben",
    "subscription ends": "Abonnement endet",
    "deletion due": "Löschung fällig",
    "grace": "Kulanzfrist",
    "locked": "gesperrt",
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
    "done_damaged": "fertig, beschädigte Kopien fehlen",
    "damaged copies left out: see DAMAGED.txt": "beschädigte Kopien fehlen: siehe DAMAGED.txt",
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
    "over licence: {users} users for {licensed_users} licensed; nothing can be added until it fits (remove users, "
    "or the MSP operator raises the licence)":
        "Über der Lizenz: {users} Benutzer bei {licensed_users} lizenzierten; nichts kann hinzugefügt werden, bis es "
        "wieder passt (Benutzer entfernen, oder der MSP-Betreiber erhöht die Lizenz).",
    "over licence: {mailboxes} archive mailboxes for {mailbox_quota} licensed; no mailbox can be added until it "
    "fits (the MSP operator raises the licence)":
        "Über der Lizenz: {mailboxes} Archivpostfächer bei {mailbox_quota} lizenzierten; kein Postfach kann "
        "hinzugefügt werden, bis es wieder passt (der MSP-Betreiber erhöht die Lizenz).",
    "Over licence": "Über der Lizenz",
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
    "was kept. Export {export_id} resumes by itself when there is room (raise the quota or delete old exports), "
    "or resume it now":
        "Pausiert: Das Speicherkontingent von {org} ({quota_bytes} Bytes) war nach {done} von {total} Einträgen "
        "erreicht; nichts wurde behalten. Export {export_id} läuft von selbst weiter, sobald wieder Platz ist "
        "(Kontingent erhöhen oder alte Exporte löschen), oder setzen Sie ihn jetzt fort.",
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
    # confirmations and refusals
    "the archive mailbox {address} is added": "Das Archivpostfach {address} ist angelegt.",
    "the domain {domain} is added": "Die Domain {domain} ist hinzugefügt.",
    "{alias} now reaches {mailbox}": "{alias} erreicht jetzt {mailbox}.",
    "the archive mailbox {address} is retired: no new mail goes into it; its mail stays readable":
        "Das Archivpostfach {address} ist stillgelegt: Es nimmt keine neue Mail mehr auf; seine Mail bleibt lesbar.",
    "the archive mailbox {address} takes new mail again": "Das Archivpostfach {address} nimmt wieder neue Mail auf.",
    "Retire": "Stilllegen",
    "Choose your password": "Wählen Sie Ihr Passwort",
    "Repeat it": "Wiederholen",
    "At least 12 characters; not your login; not a commonly used password.":
        "Mindestens 12 Zeichen; nicht Ihr Login; kein häufig verwendetes Passwort.",
    "Set the password": "Passwort setzen",
    "Take new mail again": "Wieder Mail aufnehmen",
    "retired since": "stillgelegt seit",
    "the address {alias} is removed": "Die Adresse {alias} ist entfernt.",
    "{address} is now the primary address ({aliases} still reach the mailbox)":
        "{address} ist jetzt die Hauptadresse ({aliases} erreichen das Postfach weiterhin).",
    "the user {login} may read {mailbox}": "Der Benutzer {login} darf {mailbox} lesen.",
    "the group {group} may read {mailbox}": "Die Gruppe {group} darf {mailbox} lesen.",
    "the user {login} may no longer read {mailbox}": "Der Benutzer {login} darf {mailbox} nicht mehr lesen.",
    "the group {group} may no longer read {mailbox}": "Die Gruppe {group} darf {mailbox} nicht mehr lesen.",
    "the group {group} is added": "Die Gruppe {group} ist angelegt.",
    "the group {group} is deleted": "Die Gruppe {group} ist gelöscht.",
    "{login} joined the group {group}": "{login} ist jetzt Mitglied der Gruppe {group}.",
    "{login} left the group {group}": "{login} ist nicht mehr Mitglied der Gruppe {group}.",
    "the user {login} has the role {role}": "Der Benutzer {login} hat die Rolle {role}.",
    "the group {group} has the role {role}": "Die Gruppe {group} hat die Rolle {role}.",
    "the user {login} no longer has the role {role}": "Der Benutzer {login} hat die Rolle {role} nicht mehr.",
    "the group {group} no longer has the role {role}": "Die Gruppe {group} hat die Rolle {role} nicht mehr.",
    "{login} is enabled": "{login} ist aktiviert.",
    "{login} is disabled": "{login} ist deaktiviert.",
    "{login} is deleted": "{login} ist gelöscht.",
    "{login} has no TOTP now": "{login} hat jetzt kein TOTP mehr.",
    "{login} has a new one-time password (shown once, give it to them):":
        "{login} hat ein neues Einmalpasswort (wird nur einmal angezeigt, geben Sie es weiter):",
    "the source {name} is saved": "Die Quelle {name} ist gespeichert.",
    "the source {name} is enabled": "Die Quelle {name} ist aktiviert.",
    "the source {name} is disabled": "Die Quelle {name} ist deaktiviert.",
    "the source {name} is removed; what it archived stays archived":
        "Die Quelle {name} ist entfernt; was sie archiviert hat, bleibt archiviert.",
    "the directory profile {name} is added": "Das Verzeichnisprofil {name} ist angelegt.",
    "the directory profile {name} is saved": "Das Verzeichnisprofil {name} ist gespeichert.",
    "the directory profile {name} is enabled": "Das Verzeichnisprofil {name} ist aktiviert.",
    "the directory profile {name} is disabled": "Das Verzeichnisprofil {name} ist deaktiviert.",
    "the directory profile {name} is removed; the users, groups and mailboxes it synced stay":
        "Das Verzeichnisprofil {name} ist entfernt; die Benutzer, Gruppen und Postfächer, die es abgeglichen hat, "
        "bleiben.",
    "organization '{org}' uses all {licensed_users} licensed users: remove a user or raise the licence (the MSP "
    "operator raises it with: mailark licence set --org {org} --users N)":
        "Die Organisation '{org}' nutzt alle {licensed_users} lizenzierten Benutzer: Entfernen Sie einen Benutzer "
        "oder erweitern Sie die Lizenz (der MSP-Betreiber erweitert sie mit: mailark licence set --org {org} "
        "--users N).",
    "organization '{org}' has all {quota} archive mailboxes its licence allows ({licensed_users} users x "
    "{mailboxes_per_user} mailboxes per user; shared and journal mailboxes count too): raise the licence (the MSP "
    "operator raises it with: mailark licence set --org {org} --users N or --mailboxes-per-user N)":
        "Die Organisation '{org}' hat alle {quota} Archivpostfächer, die ihre Lizenz erlaubt ({licensed_users} "
        "Benutzer x {mailboxes_per_user} Postfächer pro Benutzer; geteilte und Journal-Postfächer zählen mit): "
        "Erweitern Sie die Lizenz (der MSP-Betreiber erweitert sie mit: mailark licence set --org {org} --users N "
        "oder --mailboxes-per-user N).",
    "the trial of organization '{org}' was cancelled and has ended: nothing can be added until the MSP operator "
    "renews the licence (mailark licence renew --org {org})":
        "Die Testphase der Organisation '{org}' wurde gekündigt und ist beendet: Nichts kann hinzugefügt werden, "
        "bis der MSP-Betreiber die Lizenz verlängert (mailark licence renew --org {org}).",
    "organization '{org}' has {users} users: remove some before licensing only {new_users}":
        "Die Organisation '{org}' hat {users} Benutzer: Entfernen Sie welche, bevor Sie nur {new_users} lizenzieren.",
    "organization '{org}' has {mailboxes} archive mailboxes, more than {new_users} x {mailboxes_per_user} = "
    "{quota}: mailboxes are never deleted, so keep a quota of at least {mailboxes}":
        "Die Organisation '{org}' hat {mailboxes} Archivpostfächer, mehr als {new_users} x {mailboxes_per_user} = "
        "{quota}: Postfächer werden nie gelöscht, behalten Sie also ein Kontingent von mindestens {mailboxes}.",
    "storage of {storage_gb} GB is not a tier: choose one of {tiers} GB":
        "{storage_gb} GB Speicher ist keine Stufe: Wählen Sie eine von {tiers} GB.",
    "organization '{org}' is not in its trial (status {status})":
        "Die Organisation '{org}' ist nicht in der Testphase (Status {status}).",
    "a licence needs at least 1 user (the organization's admin is one)":
        "Eine Lizenz braucht mindestens 1 Benutzer (der Admin der Organisation ist einer).",
    "mailboxes per user must be at least 1": "Es muss mindestens 1 Postfach pro Benutzer sein.",
    "user '{login}' already exists": "Den Benutzer '{login}' gibt es schon.",
    "group '{group}' already exists": "Die Gruppe '{group}' gibt es schon.",
    "address '{address}' already belongs to an archive mailbox of organization '{org}'":
        "Die Adresse '{address}' gehört schon zu einem Archivpostfach der Organisation '{org}'.",
    "'{address}' is already the primary address of its mailbox":
        "'{address}' ist schon die Hauptadresse ihres Postfachs.",
    "domain '{domain}' is already a domain of this organization":
        "Die Domain '{domain}' ist schon eine Domain dieser Organisation.",
    "domain '{domain}' is already taken on this deployment":
        "Die Domain '{domain}' ist in dieser Installation schon vergeben.",
    "domain '{domain}' is taken on this deployment": "Die Domain '{domain}' ist in dieser Installation vergeben.",
    "organization '{org}' already has a source named '{name}'":
        "Die Organisation '{org}' hat schon eine Quelle namens '{name}'.",
    "organization '{org}' already has a directory profile named '{name}'":
        "Die Organisation '{org}' hat schon ein Verzeichnisprofil namens '{name}'.",
    "{doing} needs the {roles} role in organization '{org}'":
        "Dafür ({doing}) brauchen Sie die Rolle {roles} in der Organisation '{org}'.",
    "{doing} is for the MSP operator (ask your provider)":
        "Das ({doing}) ist dem MSP-Betreiber vorbehalten (fragen Sie Ihren Anbieter).",
    "{doing} is for MSP operators who serve every organization":
        "Das ({doing}) ist MSP-Betreibern vorbehalten, die alle Organisationen betreuen.",
    "refused: deleting group '{group}' would leave organization '{org}' without an Admin; make another user an "
    "Admin first":
        "Abgelehnt: Ohne die Gruppe '{group}' hätte die Organisation '{org}' keinen Admin mehr; machen Sie zuerst "
        "einen anderen Benutzer zum Admin.",
    "refused: removing {login} from group '{group}' would leave organization '{org}' without an Admin; make another "
    "user an Admin first":
        "Abgelehnt: Ohne {login} in der Gruppe '{group}' hätte die Organisation '{org}' keinen Admin mehr; machen "
        "Sie zuerst einen anderen Benutzer zum Admin.",
    "refused: deleting {login} would leave organization '{org}' without an Admin; make another user an Admin first":
        "Abgelehnt: Ohne {login} hätte die Organisation '{org}' keinen Admin mehr; machen Sie zuerst einen anderen "
        "Benutzer zum Admin.",
    "refused: disabling {login} would leave organization '{org}' without an Admin; make another user an Admin first":
        "Abgelehnt: Ist {login} deaktiviert, hätte die Organisation '{org}' keinen Admin mehr; machen Sie zuerst "
        "einen anderen Benutzer zum Admin.",
    "refused: taking the {role} role from {holder} would leave organization '{org}' without an Admin; make another "
    "user an Admin first":
        "Abgelehnt: Ohne die Rolle {role} für {holder} hätte die Organisation '{org}' keinen Admin mehr; machen Sie "
        "zuerst einen anderen Benutzer zum Admin.",
    "refused: {doing} would leave organization '{org}' without an Admin; make another user an Admin first":
        "Abgelehnt: Danach ({doing}) hätte die Organisation '{org}' keinen Admin mehr; machen Sie zuerst einen "
        "anderen Benutzer zum Admin.",
    "Admin or Auditor": "Admin oder Auditor",
    "too many failed logins for {login}: locked, try again in {minutes} minutes":
        "Zu viele fehlgeschlagene Anmeldungen für {login}: gesperrt, versuchen Sie es in {minutes} Minuten erneut.",
    "wrong login, password or code": "Anmeldename, Passwort oder Code ist falsch.",
    "the login took too long: start again": "Die Anmeldung hat zu lange gedauert: Beginnen Sie neu.",
    "the current password is wrong": "Das aktuelle Passwort ist falsch.",
    "the password is too short: use at least {length} characters":
        "Das Passwort ist zu kurz: Verwenden Sie mindestens {length} Zeichen.",
    "the code does not match: check the authenticator app's clock and try the next code":
        "Der Code stimmt nicht: Prüfen Sie die Uhr der Authenticator-App und versuchen Sie den nächsten Code.",
    "you logged in with a one-time password: choose your own first (POST /api/auth/password with old_password "
    "and new_password)":
        "Sie haben sich mit einem Einmalpasswort angemeldet: Wählen Sie zuerst ein eigenes (POST /api/auth/password "
        "mit old_password und new_password).",
    "this form has expired or did not come from mailark: reload the page and try again":
        "Dieses Formular ist abgelaufen oder stammt nicht von mailark: Laden Sie die Seite neu und versuchen Sie es "
        "erneut.",
    "this form was sent from another site: open mailark itself and try again":
        "Dieses Formular wurde von einer anderen Website gesendet: Öffnen Sie mailark selbst und versuchen Sie es "
        "erneut.",
    "{what} is a whole number, not '{value}': correct it and send the form again":
        "{what} ist eine ganze Zahl, nicht '{value}': Korrigieren Sie das und senden Sie das Formular erneut.",
    "the port": "Der Port",
    "the interval": "Das Intervall",
    "the form is not valid: {field}: {problem}; correct it and send the form again":
        "Das Formular ist nicht gültig: {field}: {problem}; korrigieren Sie das und senden Sie das Formular erneut.",
    "the form is not valid: use whole numbers ({detail})":
        "Das Formular ist nicht gültig: Verwenden Sie ganze Zahlen ({detail}).",
    "the form is not valid: {detail}": "Das Formular ist nicht gültig: {detail}",
    "the form is not valid: give the token a name (at most 100 characters) and, if it should expire, a number of "
    "days from 1 to 3650":
        "Das Formular ist nicht gültig: Geben Sie dem Token einen Namen (höchstens 100 Zeichen) und, wenn es ablaufen "
        "soll, eine Zahl von Tagen von 1 bis 3650.",
    # what was being done, in the refusals above
    "managing mailboxes": "Postfächer verwalten",
    "managing groups and roles": "Gruppen und Rollen verwalten",
    "adding a user": "einen Benutzer anlegen",
    "adding an archive mailbox": "ein Archivpostfach anlegen",
    "adding an address": "eine Adresse hinzufügen",
    "removing an address": "eine Adresse entfernen",
    "changing a primary address": "eine Hauptadresse ändern",
    "adding a domain": "eine Domain hinzufügen",
    "adding a group": "eine Gruppe anlegen",
    "deleting a group": "eine Gruppe löschen",
    "changing group members": "Gruppenmitglieder ändern",
    "assigning roles": "Rollen zuweisen",
    "revoking roles": "Rollen entziehen",
    "granting mailbox access": "Zugriff auf ein Postfach gewähren",
    "revoking mailbox access": "Zugriff auf ein Postfach entziehen",
    "disabling or enabling a user": "einen Benutzer deaktivieren oder aktivieren",
    "deleting a user": "einen Benutzer löschen",
    "resetting a password": "ein Passwort zurücksetzen",
    "resetting TOTP": "TOTP zurücksetzen",
    "listing users": "Benutzer auflisten",
    "adding a mail source": "eine Mailquelle hinzufügen",
    "changing a mail source": "eine Mailquelle ändern",
    "removing a mail source": "eine Mailquelle entfernen",
    "testing a mail source": "eine Mailquelle testen",
    "adding a directory profile": "ein Verzeichnisprofil hinzufügen",
    "changing a directory profile": "ein Verzeichnisprofil ändern",
    "removing a directory profile": "ein Verzeichnisprofil entfernen",
    "testing a directory profile": "ein Verzeichnisprofil testen",
    "syncing a directory": "ein Verzeichnis abgleichen",
    "reading the licence": "die Lizenz lesen",
    "changing the licence": "die Lizenz ändern",
    "cancelling the trial": "die Testphase kündigen",
    "renewing the licence": "die Lizenz verlängern",
    "deleting archived mail": "archivierte Mail löschen",
    "What will expire next": "Was als Nächstes abläuft",
    "Copies the retention policies remove (or list for review) in each of the next 12 months; held copies are not counted.":
        "Kopien, die die Aufbewahrungsrichtlinien in jedem der nächsten 12 Monate löschen (oder zur Prüfung vorlegen); Kopien unter Legal Hold sind nicht mitgezählt.",
    "No retention policy: nothing expires, mail is kept for ever.":
        "Keine Aufbewahrungsrichtlinie: Nichts läuft ab, Mail wird unbegrenzt aufbewahrt.",
    "size": "Größe",
    "Retention": "Aufbewahrung",
    "A legal hold beats every policy; among policies, the longest period that covers a copy wins.": "Ein Legal Hold geht jeder Richtlinie vor; unter den Richtlinien gilt die längste Frist, die eine Kopie erfasst.",
    "Audit chain": "Audit-Kette",
    "Case": "Fall",
    "Change": "Ändern",
    "Events": "Ereignisse",
    "Held (expired or expiring within 12 months, kept by a legal hold)": "Gehalten (abgelaufen oder in 12 Monaten ablaufend, durch einen Legal Hold bewahrt)",
    "Keep": "Aufbewahren",
    "Legal holds": "Legal Holds",
    "Nd, Nm or Ny": "Nd, Nm oder Ny",
    "New policy": "Neue Richtlinie",
    "No legal holds.": "Keine Legal Holds.",
    "Deleted": "Gelöscht",
    "(no subject)": "(kein Betreff)",
    "Policy": "Richtlinie",
    "Mailbox": "Postfach",
    "Waiting for review": "Zur Prüfung",
    "Copies whose period ended under a review policy: delete them (held copies are refused) or keep them.":
        "Kopien, deren Frist unter einer Prüf-Richtlinie abgelaufen ist: löschen (gehaltene Kopien werden abgelehnt) oder aufbewahren.",
    "Delete the ticked copies": "Markierte Kopien löschen",
    "Keep the ticked copies": "Markierte Kopien aufbewahren",
    "Nothing is waiting for review.": "Nichts wartet auf Prüfung.",
    "The review decision was recorded.": "Die Prüfentscheidung wurde gespeichert.",
    "tick the copies to decide on, then choose delete or keep":
        "markieren Sie die Kopien, über die Sie entscheiden, und wählen Sie dann löschen oder aufbewahren",
    "No retention policy: mail is kept for ever.": "Keine Aufbewahrungsrichtlinie: Mail wird unbegrenzt aufbewahrt.",
    "Place a legal hold": "Legal Hold setzen",
    "Place the hold": "Hold setzen",
    "Preview: what each policy removes in each of the next 12 months": "Vorschau: was jede Richtlinie in jedem der nächsten 12 Monate entfernt",
    "Reason": "Grund",
    "Release": "Aufheben",
    "Retention and legal holds": "Aufbewahrung und Legal Holds",
    "Retention policies": "Aufbewahrungsrichtlinien",
    "Retention report": "Aufbewahrungsbericht",
    "Search query": "Suchanfrage",
    "The legal hold was placed.": "Der Legal Hold wurde gesetzt.",
    "The legal hold was released.": "Der Legal Hold wurde aufgehoben.",
    "The policy was removed.": "Die Richtlinie wurde entfernt.",
    "The policy was saved.": "Die Richtlinie wurde gespeichert.",
    "This shortens how long mail is kept": "Dies verkürzt, wie lange Mail aufbewahrt wird",
    "Yes, save it anyway": "Ja, trotzdem speichern",
    "action": "Aktion",
    "archived": "archiviert",
    "broken at event": "unterbrochen bei Ereignis",
    "counted from": "gezählt ab",
    "covers": "erfasst",
    "delete": "löschen",
    "expired now": "jetzt abgelaufen",
    "folder": "Ordner",
    "governs": "regelt",
    "kept": "aufbewahrt",
    "kept for ever (no policy)": "unbegrenzt aufbewahrt (keine Richtlinie)",
    "message-date": "Nachrichtendatum",
    "next expiry": "nächster Ablauf",
    "none: every mailbox": "keines: alle Postfächer",
    "now": "jetzt",
    "or a search query": "oder eine Suchanfrage",
    "placed": "gesetzt",
    "released": "aufgehoben",
    "review": "prüfen",
    "target": "Ziel",
    "the whole organization": "die ganze Organisation",
    "then": "danach",
    "verified": "geprüft",
    "when": "wann",
    "who": "wer",
    "Export for e-discovery": "Für E-Discovery exportieren",
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
