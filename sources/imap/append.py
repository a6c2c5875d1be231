"""Write archived copies back into an IMAP account: APPEND into a folder, byte for byte.

The archive reads with EXAMINE and never writes; restoring is the one place that writes to a
mail server, so it lives apart from the read-only client. It logs in exactly as the profile's
sync does (the account itself, or the admin as the account in whole-server mode), creates the
folder when it is missing, and APPENDs each message with its original date as the internal date
and the \\Seen flag (restored mail is old mail, not new mail to read).
"""

from __future__ import annotations

import imaplib
from datetime import datetime

from imapclient.exceptions import IMAPClientError

from mailark.sources.errors import ItemRefused, SourceError
from mailark.sources.imap.client import ImapSession, connect
from mailark.sources.imap.config import ImapConfig, ImapSecret

FLAGS = (b"\\Seen",)


def _server_name(session: ImapSession, folder: str) -> str:
    """The server's name for an archive folder path ("Work/Projects"): its own delimiter joins the parts."""
    with session._errors("asking for the folder delimiter"):
        listed = session.client.list_folders(directory="", pattern="INBOX")
    delim = listed[0][1] if listed else b"/"
    d = delim.decode() if isinstance(delim, bytes) else (delim or "/")
    return folder if d == "/" else d.join(folder.split("/"))


class ImapAppender:
    """One logged-in connection that appends messages into one folder of one account."""

    def __init__(self, config: ImapConfig, secret: ImapSecret, account: str | None, folder: str) -> None:
        if not folder.strip("/"):
            raise SourceError("name the folder to restore into (e.g. Restored)", retryable=False)
        self.session = connect(config, secret, account)
        try:
            self.folder = _server_name(self.session, folder.strip("/"))
            with self.session._errors(f"creating folder {self.folder!r}", folder=self.folder):
                if self.folder.upper() != "INBOX" and not self.session.client.folder_exists(self.folder):
                    self.session.client.create_folder(self.folder)
        except BaseException:
            self.session.close()
            raise

    def append(self, raw: bytes, date: datetime | None) -> str | None:
        """APPEND one message; returns "UIDVALIDITY:UID" when the server tells (UIDPLUS), else None."""
        with self.session._errors(f"appending a message to {self.folder!r}", folder=self.folder):
            try:
                answer = self.session.client.append(self.folder, raw, flags=FLAGS, msg_time=date)
            except IMAPClientError as e:
                if isinstance(e, imaplib.IMAP4.abort):
                    raise
                # NO to this APPEND (over quota, too large, refused content): the connection stays good.
                raise ItemRefused(f"IMAP server {self.session.config.endpoint} refused the message: {e}") from e
        text = answer.decode("ascii", "replace") if isinstance(answer, bytes) else str(answer)
        # "[APPENDUID 1700000000 12] Append completed."
        if "APPENDUID" in text.upper():
            parts = text.upper().split("APPENDUID", 1)[1].strip(" ]").split()
            if len(parts) >= 2:
                return f"{parts[0]}:{parts[1].rstrip(']')}"
        return None

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> ImapAppender:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
