"""Read Outlook PST/OST files with libpff (``pypff``), folder by folder, item by item.

libpff reads the file on demand, so a large PST is never loaded whole; one item (with its
attachments) is in memory at a time. Each item becomes MIME through ``outlook_mime`` (shared with
.msg files) and is identified by its node id, which is stable inside the file.

Folder paths: the IPM subtree (shown as "Top of Outlook data file" / "Top of Personal Folders",
localised in other languages; found through the message store's ``PR_IPM_SUBTREE_ENTRYID``, by
name as a fallback) is the mailbox root, so its children give "Inbox", "Inbox/Projects", ...
Folders outside it (e.g. "Search Root") keep their full path. A "/" inside a folder name becomes
"_" so that it cannot create a level that does not exist.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .model import SourceMessage, SourceProblem
from .outlook_mime import (
    Kind,
    PropertySource,
    codepage_codec,
    convert_item,
    filetime_to_datetime,
    PR_INTERNET_CPID,
    PR_MESSAGE_CODEPAGE,
    PR_TRANSPORT_MESSAGE_HEADERS,
)

PR_IPM_SUBTREE_ENTRYID = 0x35E0
MAX_WHOLE_FILE_PROBLEM = 32 << 20  # a PST that cannot be opened is quarantined whole only up to this size

_PT_SHORT, _PT_LONG, _PT_BOOLEAN, _PT_LONGLONG = 0x0002, 0x0003, 0x000B, 0x0014
_PT_STRING8, _PT_UNICODE, _PT_SYSTIME, _PT_BINARY = 0x001E, 0x001F, 0x0040, 0x0102


class _PffProperties:
    """``PropertySource`` over the record sets of a libpff item (first value of a tag wins)."""

    def __init__(self, record_sets: Sequence[Any], codec: str) -> None:
        self._entries: dict[int, Any] = {}
        self._codec = codec
        for record_set in record_sets:
            for index in range(record_set.number_of_entries):
                try:
                    entry = record_set.get_entry(index)
                    tag = entry.entry_type
                except (OSError, IOError):
                    continue
                self._entries.setdefault(tag, entry)

    def get(self, tag: int, kind: Kind) -> object | None:
        entry = self._entries.get(tag)
        if entry is None:
            return None
        value_type = entry.value_type
        data = entry.data
        if data is None:
            return None
        if kind is Kind.STRING:
            if value_type == _PT_UNICODE:
                return data.decode("utf-16-le", "replace")
            if value_type == _PT_STRING8:
                return data.rstrip(b"\x00").decode(self._codec, "replace")
            return None
        if kind is Kind.BINARY:
            return data if value_type == _PT_BINARY else None
        if kind is Kind.TIME:
            return filetime_to_datetime(int.from_bytes(data[:8], "little")) if value_type == _PT_SYSTIME else None
        if kind is Kind.INT:
            if value_type in (_PT_SHORT, _PT_LONG, _PT_LONGLONG):
                return int.from_bytes(data, "little", signed=value_type != _PT_LONG)
            return None
        if kind is Kind.BOOL:
            return bool(data[:1] != b"\x00") if value_type == _PT_BOOLEAN else None
        return None

    def recipients(self) -> Sequence[PropertySource]:
        return []

    def attachments(self) -> Sequence[Any]:
        return []

    def rtf(self) -> bytes | None:
        return None

    def dump(self) -> bytes:
        """Every readable property as text lines ``TTTTVVVV: base64`` (what we have of a broken item)."""
        lines = []
        for tag, entry in sorted(self._entries.items()):
            try:
                data = entry.data or b""
                value_type = entry.value_type
            except (OSError, IOError):
                continue
            lines.append(f"{tag:04X}{value_type:04X}: ".encode("ascii") + base64.b64encode(data) + b"\r\n")
        return b"".join(lines)


def _codec_for(props: _PffProperties, default: str) -> str:
    cp = props.get(PR_MESSAGE_CODEPAGE, Kind.INT) or props.get(PR_INTERNET_CPID, Kind.INT)
    return codepage_codec(cp, default) if cp else default


class _PffMessage(_PffProperties):
    """A libpff message (or an embedded one) as a ``PropertySource``."""

    def __init__(self, item: Any, codec: str) -> None:
        super().__init__(item.record_sets, codec)
        self._codec = _codec_for(self, codec)
        self._item = item

    def recipients(self) -> Sequence[PropertySource]:
        table = self._item.recipients
        if table is None:
            return []
        return [_PffProperties([record_set], self._codec) for record_set in table.record_sets]

    def attachments(self) -> Sequence[_PffAttachment]:
        return [
            _PffAttachment(self._item.get_attachment(i), self._codec)
            for i in range(self._item.number_of_attachments)
        ]

    def rtf(self) -> bytes | None:
        return self._item.rtf_body or None


class _PffAttachment(_PffProperties):
    def __init__(self, item: Any, codec: str) -> None:
        super().__init__(item.record_sets, codec)
        self._item = item

    def data(self) -> bytes | None:
        size = self._item.get_size()
        if size is None:
            return None
        if size == 0:
            return b""
        self._item.seek_offset(0, 0)
        return self._item.read_buffer(size)

    def embedded(self) -> PropertySource | None:
        # libpff has libpff_attachment_get_item, but pypff does not expose it (and an attachment's
        # "sub items" are its message's tree nodes, not the embedded item): say so, never guess.
        raise NotImplementedError("pypff cannot read an Outlook item attached to another item")


def _component(name: str | None) -> str:
    name = (name or "").replace("/", "_").strip()
    return name or "(unnamed)"


def _ipm_subtree_id(pst: Any) -> int | None:
    try:
        store = pst.get_message_store()
        props = _PffProperties(store.record_sets, "cp1252")
        entry_id = props.get(PR_IPM_SUBTREE_ENTRYID, Kind.BINARY)
    except Exception:  # noqa: BLE001 - no usable message store: fall back to names
        return None
    if isinstance(entry_id, bytes) and len(entry_id) >= 24:
        return int.from_bytes(entry_id[20:24], "little")
    return None


def iter_pst(
    path: Path, *, position: str, folder: str | None = None, base_folder: str = "", origin: Path | None = None
) -> Iterator[SourceMessage | SourceProblem]:
    """Yield every item of the PST/OST at ``path`` as a message or a problem.

    ``folder`` (if given) overrides the folder of every item; otherwise items go to
    ``base_folder`` joined with their PST folder path. Positions are
    ``<position>#/<full PST folder path>#id=<node id>``.
    """
    import pypff

    origin = Path(path) if origin is None else origin
    pst = pypff.file()
    handle = None
    try:
        if not _has_surrogates(str(path)):
            pst.open(str(path))
        else:  # a file name that is not valid UTF-8 (pypff refuses it): hand libpff a file object
            handle = open(path, "rb")
            pst.open_file_object(handle)
    except Exception as exc:  # noqa: BLE001 - pypff raises IOError, RuntimeError, ...
        if handle is not None:
            handle.close()
        raw = _small_file_bytes(path)
        yield SourceProblem(
            raw=raw,
            folder=folder if folder is not None else base_folder,
            source="pst",
            position=position,
            origin=origin,
            reason=f"unreadable Outlook data file (PST/OST): {exc}" + ("" if raw else not_kept(path)),
        )
        return
    try:
        codec = codepage_codec(None, (pst.ascii_codepage or b"cp1252").decode("ascii", "replace"))
        subtree = _ipm_subtree_id(pst)
        try:
            root = pst.get_root_folder()
        except Exception as exc:  # noqa: BLE001 - pypff raises IOError, RuntimeError, ...
            yield SourceProblem(
                raw=b"",
                folder=folder if folder is not None else base_folder,
                source="pst",
                position=position,
                origin=origin,
                reason=f"the folder tree of the Outlook data file cannot be read: {exc}",
            )
            return
        yield from _walk_folder(root, [], [], subtree, codec, position, folder, base_folder, origin)
    finally:
        pst.close()
        if handle is not None:
            handle.close()


def _walk_folder(
    pff_folder: Any,
    full: list[str],
    archive: list[str],
    subtree: int | None,
    codec: str,
    position: str,
    override: str | None,
    base_folder: str,
    origin: Path,
) -> Iterator[SourceMessage | SourceProblem]:
    archive_folder = override if override is not None else "/".join(p for p in [base_folder, *archive] if p)
    where = f"{position}#/{'/'.join(full)}"

    def problem(raw: bytes, pos: str, reason: str) -> SourceProblem:
        return SourceProblem(raw=raw, folder=archive_folder, source="pst", position=pos, origin=origin, reason=reason)

    try:
        count = pff_folder.number_of_sub_messages
    except Exception as exc:  # noqa: BLE001 - pypff raises IOError, RuntimeError, ...
        count = 0
        yield problem(b"", f"{where}#messages", f"the message list of an Outlook folder cannot be read: {exc}")
    for index in range(count):
        try:
            item = pff_folder.get_sub_message(index)
            identifier = item.identifier
        except Exception as exc:  # noqa: BLE001 - pypff raises IOError, RuntimeError, ...
            yield problem(b"", f"{where}#index={index}", f"unreadable Outlook item: {exc}")
            continue
        yield _convert(item, codec, f"{where}#id={identifier}", archive_folder, origin)
    try:
        subfolders = pff_folder.number_of_sub_folders
    except Exception as exc:  # noqa: BLE001 - pypff raises IOError, RuntimeError, ...
        subfolders = 0
        yield problem(b"", f"{where}#folders", f"the subfolders of an Outlook folder cannot be read: {exc}")
    for index in range(subfolders):
        try:
            sub = pff_folder.get_sub_folder(index)
            name = _component(sub.name)
            identifier = sub.identifier
        except Exception as exc:  # noqa: BLE001 - pypff raises IOError, RuntimeError, ...
            yield problem(b"", f"{where}#folder-index={index}", f"unreadable Outlook folder: {exc}")
            continue
        is_top = identifier == subtree if subtree is not None else (not full and name.startswith("Top of "))
        yield from _walk_folder(
            sub,
            [*full, name],
            [] if is_top else [*archive, name],
            subtree,
            codec,
            position,
            override,
            base_folder,
            origin,
        )


def _convert(item: Any, codec: str, position: str, folder: str, origin: Path) -> SourceMessage | SourceProblem:
    """One item as a message; as a problem (with the MIME we could build, or its properties) if not whole."""
    props: _PffMessage | None = None
    try:
        props = _PffMessage(item, codec)
        conversion = convert_item(props)
    except Exception as exc:  # noqa: BLE001 - libpff and decoding errors vary
        raw = b""
        if props is not None:
            headers = props.get(PR_TRANSPORT_MESSAGE_HEADERS, Kind.STRING)
            raw = (headers.encode("utf-8", "replace") if isinstance(headers, str) else b"") + props.dump()
        return SourceProblem(raw=raw, folder=folder, source="pst", position=position, origin=origin,
                             reason=f"unreadable Outlook item: {exc}")
    if conversion.warnings:
        return SourceProblem(raw=conversion.raw, folder=folder, source="pst", position=position, origin=origin,
                             reason="Outlook item converted incompletely: " + "; ".join(conversion.warnings))
    return SourceMessage(raw=conversion.raw, folder=folder, source="pst", position=position, origin=origin)


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def not_kept(path: Path) -> str:
    """What a problem's reason adds when the file's bytes are not kept (too large to quarantine whole)."""
    try:
        size = Path(path).stat().st_size
    except OSError:
        return ""
    if size <= MAX_WHOLE_FILE_PROBLEM:
        return ""
    return (f"; its {size} bytes are not kept (over {MAX_WHOLE_FILE_PROBLEM >> 20} MiB): keep the file, "
            "repair it (Outlook's scanpst) and import it again")


def _small_file_bytes(path: Path) -> bytes:
    """The whole file if it is small enough to quarantine in one piece, else nothing."""
    try:
        if Path(path).stat().st_size <= MAX_WHOLE_FILE_PROBLEM:
            return Path(path).read_bytes()
    except OSError:
        pass
    return b""
