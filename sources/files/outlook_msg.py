"""Read Outlook .msg files (OLE compound files) with ``extract_msg``.

The item's MAPI properties are read raw (streams ``__substg1.0_TTTTVVVV`` and the property
stream) and handed to ``outlook_mime``, the same conversion as for PST items, so that a message
exported to .msg and the same message in a PST give the same bytes. A file that is not an Outlook
item (another OLE document, a damaged file) becomes a problem carrying the file's bytes.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .model import SourceMessage, SourceProblem
from .outlook_mime import (
    Kind,
    PropertySource,
    codepage_codec,
    convert_item,
    PR_INTERNET_CPID,
    PR_MESSAGE_CLASS,
    PR_MESSAGE_CODEPAGE,
)

_TYPE_SUFFIX = {Kind.TIME: "0040", Kind.BOOL: "000B"}


class _MsgProperties:
    """``PropertySource`` over an extract_msg object (message, recipient or attachment)."""

    def __init__(self, obj: Any, codec: str) -> None:
        self._obj = obj
        self._codec = codec

    def _stream(self, name: str) -> bytes | None:
        try:
            return self._obj.getStream(name)
        except (OSError, KeyError):
            return None

    def get(self, tag: int, kind: Kind) -> object | None:
        if kind is Kind.STRING:
            data = self._stream(f"__substg1.0_{tag:04X}001F")
            if data is not None:
                return data.decode("utf-16-le", "replace")
            data = self._stream(f"__substg1.0_{tag:04X}001E")
            return None if data is None else data.rstrip(b"\x00").decode(self._codec, "replace")
        if kind is Kind.BINARY:
            return self._stream(f"__substg1.0_{tag:04X}0102")
        try:
            if kind is Kind.INT:
                for suffix in ("0003", "0002", "0014"):
                    value = self._obj.getPropertyVal(f"{tag:04X}{suffix}")
                    if value is not None:
                        return int(value)
                return None
            value = self._obj.getPropertyVal(f"{tag:04X}{_TYPE_SUFFIX[kind]}")
        except (KeyError, ValueError, TypeError):
            return None
        return value

    def recipients(self) -> Sequence[PropertySource]:
        return [_MsgProperties(r, self._codec) for r in getattr(self._obj, "recipients", None) or []]

    def attachments(self) -> Sequence[_MsgAttachment]:
        # Signed-message classes parse their attachment; we want the raw one (the S/MIME entity).
        atts = getattr(self._obj, "rawAttachments", None)
        if atts is None:
            atts = getattr(self._obj, "attachments", None) or []
        return [_MsgAttachment(a, self._codec) for a in atts]

    def rtf(self) -> bytes | None:
        compressed = self._stream("__substg1.0_10090102")
        if not compressed:
            return None
        import compressed_rtf  # a dependency of extract_msg

        return compressed_rtf.decompress(compressed)


class _MsgAttachment(_MsgProperties):
    def data(self) -> bytes | None:
        data = self._stream("__substg1.0_37010102")
        if data is not None:
            return data
        value = getattr(self._obj, "data", None)
        return value if isinstance(value, bytes) else None

    def embedded(self) -> PropertySource | None:
        inner = getattr(self._obj, "data", None)
        if inner is None or isinstance(inner, bytes) or not hasattr(inner, "getStream"):
            return None
        return _message_properties(inner, self._codec)


def _message_properties(msg: Any, default_codec: str = "cp1252") -> _MsgProperties:
    probe = _MsgProperties(msg, default_codec)
    cp = probe.get(PR_MESSAGE_CODEPAGE, Kind.INT) or probe.get(PR_INTERNET_CPID, Kind.INT)
    return _MsgProperties(msg, codepage_codec(cp, default_codec) if cp else default_codec)


def _open(data: bytes) -> Any:
    """Open an item from its bytes. They go in as a file object: olefile takes ``bytes`` shorter
    than 1536 as a *file name*, so a small .msg would open whatever file its bytes name."""
    import extract_msg
    from extract_msg.enums import ErrorBehavior

    return extract_msg.openMsg(
        io.BytesIO(data),
        strict=False,
        errorBehavior=ErrorBehavior.ATTACH_SUPPRESS_ALL | ErrorBehavior.RTFDE | ErrorBehavior.NAMED_NAME_STREAM,
    )


def iter_msg(path: Path, *, folder: str, position: str, origin: Path | None = None) -> Iterator[SourceMessage | SourceProblem]:
    """Yield the one item of a .msg file: a message, or a problem with the file's bytes."""
    origin = Path(path) if origin is None else origin

    def problem(raw: bytes, reason: str) -> SourceProblem:
        return SourceProblem(raw=raw, folder=folder, source="msg", position=position, origin=origin, reason=reason)

    try:
        raw_file = Path(path).read_bytes()
    except OSError as exc:
        yield problem(b"", f"unreadable file: {exc}")
        return
    msg = None
    try:
        msg = _open(raw_file)
        props = _message_properties(msg)
        if not props.get(PR_MESSAGE_CLASS, Kind.STRING):
            yield problem(raw_file, "an OLE compound file that is not an Outlook item (no message class)")
            return
        conversion = convert_item(props)
    except Exception as exc:  # noqa: BLE001 - extract_msg/olefile raise many kinds of errors
        yield problem(raw_file, f"unreadable Outlook .msg file: {type(exc).__name__}: {exc}")
        return
    finally:
        if msg is not None:
            try:
                msg.close()
            except Exception:  # noqa: BLE001
                pass
    if conversion.warnings:  # quarantine the file itself: it still holds everything
        yield problem(raw_file, "Outlook .msg converted incompletely: " + "; ".join(conversion.warnings))
        return
    yield SourceMessage(raw=conversion.raw, folder=folder, source="msg", position=position, origin=origin)
