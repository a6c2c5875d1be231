"""A read-only IMAP client for archiving, over imapclient.

Folders are opened with EXAMINE and bodies fetched with BODY.PEEK[], so the archive never sets
\\Seen or changes anything on the server. Every failure becomes a `SourceError` that says what
happened and what to do (server down, login refused, certificate not trusted, folder gone).

Stable ids: with RFC 8474 OBJECTID the server names folders (STATUS MAILBOXID) and messages
(FETCH EMAILID) for good; Dovecot without OBJECTID (2.3) offers the same as STATUS/FETCH X-GUID.
Without either the mirror falls back to UIDVALIDITY and Message-ID + size (sources.imap.plan).
"""

from __future__ import annotations

import hashlib
import imaplib
import re
import socket
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from mailark.control.trust import tls_client_context
from mailark.sources.network_policy import check_destination
from mailark.sources.errors import SourceError
from mailark.sources.imap.config import ImapConfig, ImapSecret

_UNFOLD = re.compile(rb"\r?\n[ \t]+")


class ServerUnavailable(SourceError):
    """The server itself cannot be used (unreachable, TLS or certificate refused): every account
    of a whole-server source fails alike, so the run stops at the first."""


@dataclass(frozen=True)
class FolderStatus:
    name: str  # as the server names it (decoded from modified UTF-7)
    path: str  # "/"-separated: the archive's folder path
    uidvalidity: int
    uidnext: int
    messages: int
    modseq: int | None
    folder_id: str | None  # MAILBOXID or X-GUID


@dataclass(frozen=True)
class MessageInfo:
    """What the mirror needs to decide whether to download a message."""

    uid: int
    size: int
    internaldate: datetime | None
    email_id: str | None  # EMAILID or X-GUID
    message_id: str | None
    header_key: str | None  # hash of the header section (see header_key)


def _tls_context(config: ImapConfig) -> ssl.SSLContext:
    ctx = tls_client_context(config.ca_pem, config.ca_file)
    if not config.verify_cert:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _folder_path(name: str, delimiter: bytes | str | None) -> str:
    d = delimiter.decode() if isinstance(delimiter, bytes) else delimiter
    return "/".join(name.split(d)) if d and d != "/" else name


def _message_id(header: bytes | None) -> str | None:
    if not header:
        return None
    for line in _UNFOLD.sub(b" ", header).splitlines():
        name, sep, value = line.partition(b":")
        if sep and name.strip().lower() == b"message-id":
            v = value.strip().decode("utf-8", "replace")
            return v or None
    return None


def header_key(header: bytes) -> str:
    """A short hash of a message's header section, as the server returns it (BODY[HEADER], or the
    start of BODY[] up to and including the empty line): the same message has the same key in
    every folder, whatever its UID."""
    return hashlib.sha256(header).hexdigest()[:32]


def header_of(raw: bytes) -> bytes:
    end = raw.find(b"\r\n\r\n")
    return raw[: end + 4] if end >= 0 else raw


def _first(v: Any) -> str | None:
    """An object id as imapclient parses it: bytes, or a one-element tuple (`(F123)`)."""
    if isinstance(v, tuple | list):
        v = v[0] if v else None
    if isinstance(v, bytes):
        v = v.decode("ascii", "replace")
    # Ids are 1*255 of ALPHA / DIGIT / "_" / "-" (RFC 8474); ":" separates fields of a source position.
    return str(v).replace(":", "_") if v else None


class ImapSession:
    """One logged-in connection to one account (see `connect`)."""

    def __init__(self, client: IMAPClient, config: ImapConfig, login: str) -> None:
        self.client = client
        self.config = config
        self.login = login
        caps = set(client.capabilities())
        self.condstore = b"CONDSTORE" in caps
        self.ids: str | None = None  # "objectid" | "x-guid" | None
        if config.stable_ids == "auto":
            if b"OBJECTID" in caps:
                self.ids = "objectid"
            else:
                self.ids = "x-guid" if self._x_guid_works() else None
        self.selected: str | None = None

    # ---- folders --------------------------------------------------------------------------

    def _x_guid_works(self) -> bool:
        try:
            st = self.client.folder_status("INBOX", [b"X-GUID"])
        except (IMAPClientError, imaplib.IMAP4.error):
            return False
        return bool(_first(st.get(b"X-GUID")))

    def folders(self) -> list[tuple[str, str]]:
        """(server name, archive path) of every selectable folder the profile archives."""
        with self._errors("listing folders"):
            listed = self.client.list_folders()
        out = []
        for flags, delimiter, name in listed:
            if any(f.lower() in (b"\\noselect", b"\\nonexistent") for f in flags):
                continue
            path = _folder_path(name, delimiter)
            if self.config.wants(path):
                out.append((name, path))
        return out

    def status(self, name: str, path: str) -> FolderStatus:
        items = [b"UIDVALIDITY", b"UIDNEXT", b"MESSAGES"]
        if self.condstore:
            items.append(b"HIGHESTMODSEQ")
        if self.ids:
            items.append(b"MAILBOXID" if self.ids == "objectid" else b"X-GUID")
        with self._errors(f"reading the status of folder {name!r}", folder=name):
            st = self.client.folder_status(name, items)
        fid = _first(st.get(b"MAILBOXID") or st.get(b"X-GUID"))
        modseq = st.get(b"HIGHESTMODSEQ")
        return FolderStatus(name, path, int(st[b"UIDVALIDITY"]), int(st[b"UIDNEXT"]), int(st.get(b"MESSAGES", 0)),
                            int(modseq) if modseq is not None else None, fid)

    def examine(self, name: str) -> int:
        """Open a folder read-only; returns its UIDVALIDITY."""
        with self._errors(f"opening folder {name!r}", folder=name):
            info = self.client.select_folder(name, readonly=True)
        self.selected = name
        return int(info[b"UIDVALIDITY"])

    # ---- messages (in the examined folder) -------------------------------------------------

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above the cursor (`n:*` also names the highest UID when none is above n)."""
        with self._errors(f"listing new messages in {self.selected!r}", folder=self.selected):
            found = self.client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(u for u in found if u > last_uid)

    def present(self, uids: Sequence[int]) -> set[int]:
        if not uids:
            return set()
        with self._errors(f"checking messages in {self.selected!r}", folder=self.selected):
            return set(self.client.search(["UID", ",".join(str(u) for u in uids)]))

    def infos(self, uids: Sequence[int], *, headers: bool = True) -> list[MessageInfo]:
        """Size and ids of messages; with `headers`, also their header section (hash, Message-ID),
        needed only to recognise messages the archive may hold already."""
        if not uids:
            return []
        items = [b"RFC822.SIZE", b"INTERNALDATE"]
        if headers:
            items.append(b"BODY.PEEK[HEADER]")
        if self.ids:
            items.append(b"EMAILID" if self.ids == "objectid" else b"X-GUID")
        with self._errors(f"reading message sizes in {self.selected!r}", folder=self.selected):
            got = self.client.fetch(list(uids), items)
        out = []
        for uid, d in got.items():
            header = d.get(b"BODY[HEADER]")
            out.append(MessageInfo(
                uid, int(d.get(b"RFC822.SIZE", 0)), d.get(b"INTERNALDATE"),
                _first(d.get(b"EMAILID") or d.get(b"X-GUID")), _message_id(header),
                header_key(header) if header else None,
            ))
        return sorted(out, key=lambda m: m.uid)

    def bodies(self, uids: Sequence[int]) -> dict[int, bytes]:
        """The exact bytes of each message (a message expunged meanwhile is simply missing)."""
        if not uids:
            return {}
        with self._errors(f"downloading messages from {self.selected!r}", folder=self.selected):
            got = self.client.fetch(list(uids), [b"BODY.PEEK[]"])
        return {uid: d[b"BODY[]"] for uid, d in got.items() if b"BODY[]" in d}

    def close(self) -> None:
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001 - closing a broken connection must not hide the real error
            try:
                self.client.shutdown()
            except Exception:  # noqa: BLE001
                pass

    def __enter__(self) -> ImapSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _errors(self, doing: str, folder: str | None = None) -> Iterator[None]:
        with translate_errors(self.config, doing, folder=folder):
            yield


@contextmanager
def translate_errors(config: ImapConfig, doing: str, *, login: str | None = None, folder: str | None = None) -> Iterator[None]:
    """Turn what imapclient, ssl and sockets raise into a SourceError a person can act on."""
    where = config.endpoint
    try:
        yield
    except SourceError:
        raise
    except ssl.SSLCertVerificationError as e:
        raise ServerUnavailable(
            f"the certificate of IMAP server {where} is not trusted ({e.verify_message or e}): give the source the "
            f"server's CA certificate (ca_pem; the CLI's --ca-file) or, for a test server only, turn certificate checking off",
            retryable=False,
        ) from e
    except ssl.SSLError as e:
        raise ServerUnavailable(f"TLS with IMAP server {where} failed ({e}): check the port and security setting", retryable=False) from e
    except LoginError as e:
        raise SourceError(
            f"IMAP server {where} refused the login of {login or config.username!r} ({_text(e)}): "
            f"check the user name and password (or token) of the source", retryable=False,
        ) from e
    except (ConnectionRefusedError, socket.gaierror, TimeoutError, socket.timeout) as e:
        raise ServerUnavailable(f"cannot reach IMAP server {where} while {doing}: {e}; is the server up and the address right?") from e
    except (imaplib.IMAP4.abort, ConnectionError, EOFError) as e:
        raise SourceError(f"the connection to IMAP server {where} broke while {doing}: {_text(e)}; the next run goes on from here") from e
    except OSError as e:
        raise ServerUnavailable(f"cannot reach IMAP server {where} while {doing}: {e}") from e
    except (IMAPClientError, imaplib.IMAP4.error) as e:
        msg = _text(e)
        if folder is not None and re.search(r"NONEXISTENT|doesn't exist|does not exist|not exist|no such", msg, re.I):
            raise SourceError(
                f"folder {folder!r} disappeared from IMAP server {where} while {doing} ({msg}); "
                f"the next run archives the folders as they are then"
            ) from e
        raise SourceError(f"IMAP server {where} answered an error while {doing}: {msg}") from e


def _text(e: BaseException) -> str:
    s = str(e)
    m = re.match(r"^b'(.*)'$", s) or re.match(r'^b"(.*)"$', s)
    return m.group(1) if m else s


def connect(config: ImapConfig, secret: ImapSecret, account: str | None = None) -> ImapSession:
    """Connect, secure and log in (as `account` through the admin in whole-server mode)."""
    login = config.login_for(account)
    credential = _credential(config, secret)
    check_destination(config.host, config.resolved_port, "the IMAP server")
    with translate_errors(config, "connecting", login=login):
        client = IMAPClient(
            config.host, port=config.resolved_port, ssl=config.security == "ssl",
            ssl_context=_tls_context(config) if config.security == "ssl" else None, timeout=config.timeout,
        )
    try:
        with translate_errors(config, "logging in", login=login):
            if config.security == "starttls":
                if b"STARTTLS" not in client.capabilities():
                    raise ServerUnavailable(f"IMAP server {config.endpoint} does not offer STARTTLS: use security=ssl "
                                      f"with its TLS port, or fix the server", retryable=False)
                client.starttls(_tls_context(config))
            if config.auth == "xoauth2":
                client.oauth2_login(login, credential)
            else:
                client.login(login, credential)
        with translate_errors(config, "starting the session", login=login):
            return ImapSession(client, config, login)
    except BaseException:
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass
        raise


def _credential(config: ImapConfig, secret: ImapSecret) -> str:
    try:
        return secret.for_auth(config.auth)
    except ValueError as e:
        raise SourceError(str(e), retryable=False) from e


def probe(config: ImapConfig | dict[str, Any], secret: ImapSecret | dict[str, Any], account: str | None = None) -> str:
    """Test connection and credentials: a line that says what was reached, or a SourceError."""
    cfg = config if isinstance(config, ImapConfig) else ImapConfig.model_validate(config)
    sec = secret if isinstance(secret, ImapSecret) else ImapSecret.model_validate(secret)
    if cfg.mode == "server":
        account = account or (cfg.accounts[0] if cfg.accounts else None)
        if account is None:
            raise SourceError("to test a whole-server source, name an account to log in as", retryable=False)
    with connect(cfg, sec, account) as s:
        folders = s.folders()
        ids = {"objectid": "stable ids (OBJECTID)", "x-guid": "stable ids (Dovecot X-GUID)", None: "no stable ids"}[s.ids]
        tls = {"ssl": "TLS", "starttls": "STARTTLS", "plain": "no TLS"}[cfg.security]
        return (f"connected to {cfg.host}:{cfg.resolved_port} ({tls}), logged in as {s.login}: "
                f"{len(folders)} folder(s) to archive, {ids}")
