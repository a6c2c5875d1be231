"""Walk an import source (a file or a directory tree) and read every mail file in it.

Each file is recognised by its content (``detect_format``), never by its name. A directory is
walked recursively in sorted order so that two runs over the same tree yield the same items in
the same order. Hidden entries (names starting with ".") are skipped, except the folders of a
Maildir++ (see ``maildir.py``: a directory with ``cur/`` and ``new/`` is read as a Maildir); a symlink is followed only
to a file inside the tree (symlinked directories are skipped: their targets are either outside the
tree or walked anyway, and skipping them rules out loops). Nothing here raises for a bad file: an
unreadable file, a special file or a reader failure becomes a ``SourceProblem``.

Folders (unless the caller gives one for everything): a directory's path below the source
("" at the top); an mbox adds its file name without extension (Thunderbird's ``X.sbd``
directories count as folder ``X``, Apple Mail's ``X.mbox/mbox`` as folder ``X``); a PST adds its
folder tree; an .eml/.msg file lives in its directory's folder. A Maildir's own messages go to
``INBOX`` and its subfolders (``.Archive.2020`` or ``Archive/2020``) beside it, below the Maildir's
directory path (``Maildir/INBOX``, ``Maildir/Archive/2020`` when the source is its parent).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from .detect import detect_format
from .maildir import MESSAGE_DIRS, fs_layout_folder, is_maildir, maildirpp_folder, split_info
from .mbox import iter_mbox
from .model import SourceMessage, SourceProblem
from .outlook_msg import iter_msg
from .outlook_pst import MAX_WHOLE_FILE_PROBLEM, iter_pst, not_kept

Item = SourceMessage | SourceProblem
_MAILDIR_OWN = frozenset(("cur", "new", "tmp"))


def _text(name: str) -> str:
    """A file name safe to store as text (undecodable bytes become visible escapes)."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _join(parts: list[str]) -> str:
    return "/".join(p for p in parts if p)


def _mbox_folder(dir_parts: list[str], file_name: str) -> str:
    parts = [p[:-4] if p.endswith(".sbd") and len(p) > 4 else p for p in dir_parts]
    stem = PurePosixPath(file_name).stem if not file_name.startswith(".") else file_name
    if file_name == "mbox" and parts and parts[-1].endswith(".mbox") and len(parts[-1]) > 5:
        return _join([*parts[:-1], parts[-1][:-5]])  # Apple Mail: Name.mbox/mbox
    return _join([*parts, stem])


def iter_source(path: Path, folder: str | None = None) -> Iterator[SourceMessage | SourceProblem]:
    """Yield every message (or problem) found in ``path``, a mail file or a directory tree.

    ``folder``, if given, is the archive folder of every item; otherwise folders come from the
    source (see the module docstring). Positions are relative to ``path`` (a file's own name when
    ``path`` is a file). Raises ``FileNotFoundError`` only when ``path`` itself does not exist.
    """
    path = Path(path)
    st = os.stat(path)  # a missing source is the caller's mistake: let it raise
    if stat.S_ISDIR(st.st_mode):
        yield from _walk_directory(path, path.resolve(), [], folder)
        return
    name = _text(path.name)
    yield from _read_file(path, st, name, [], folder)


def _problem(path: Path, rel: str, folder: str, reason: str, raw: bytes = b"", source: str = "eml") -> SourceProblem:
    return SourceProblem(raw=raw, folder=folder, source=source, position=rel, origin=path, reason=reason)


def _entry_stat(entry: os.DirEntry[str], root: Path, rel: str, here: str) -> os.stat_result | SourceProblem | None:
    """The entry's stat (following a symlink to a file inside the tree), a problem, or None to skip it."""
    child = Path(entry.path)
    try:
        if entry.is_symlink():
            try:
                target = child.resolve(strict=True)
            except (OSError, RuntimeError):
                return None  # dangling or looping link
            if not target.is_relative_to(root) or target.is_dir():
                return None
        return child.stat()
    except OSError as exc:
        return _problem(child, rel, here, f"unreadable file: {exc}")


def _scan(directory: Path, rel_parts: list[str], here: str) -> list[os.DirEntry[str]] | SourceProblem:
    try:
        with os.scandir(directory) as it:
            return sorted(it, key=lambda e: e.name)
    except OSError as exc:
        return _problem(directory, _join(rel_parts) + "/", here, f"unreadable directory: {exc}")


def _walk_directory(directory: Path, root: Path, rel_parts: list[str], override: str | None) -> Iterator[Item]:
    here = override if override is not None else _join(rel_parts)
    if is_maildir(directory):
        base = _join(rel_parts)
        yield from _walk_maildir(directory, root, rel_parts, _join([base, "INBOX"]), base, override)
        return
    entries = _scan(directory, rel_parts, here)
    if isinstance(entries, SourceProblem):
        yield entries
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        child = Path(entry.path)
        name = _text(entry.name)
        rel = _join([*rel_parts, name])
        st = _entry_stat(entry, root, rel, here)
        if st is None:
            continue
        if isinstance(st, SourceProblem):
            yield st
            continue
        if stat.S_ISDIR(st.st_mode):
            yield from _walk_directory(child, root, [*rel_parts, name], override)
        else:
            yield from _read_file(child, st, rel, rel_parts, override)


def _walk_maildir(
    directory: Path, root: Path, rel_parts: list[str], folder: str, child_base: str, override: str | None
) -> Iterator[Item]:
    """A Maildir: its own messages (``cur/``, ``new/``) into ``folder``, then its subfolders (Maildir++
    ``.A.B`` or ``LAYOUT=fs`` directories) below ``child_base``. Everything else in a Maildir is the
    mail server's bookkeeping (indexes, uid lists, subscriptions, ``tmp/``) and is not read."""
    here = override if override is not None else folder
    entries = _scan(directory, rel_parts, here)
    if isinstance(entries, SourceProblem):
        yield entries
        return
    for sub in MESSAGE_DIRS:
        sub_dir = directory / sub
        if not sub_dir.is_dir():
            continue
        files = _scan(sub_dir, [*rel_parts, sub], here)
        if isinstance(files, SourceProblem):
            yield files
            continue
        for entry in sorted(files, key=lambda e: split_info(e.name)[0]):
            if entry.name.startswith("."):
                continue
            unique, flags = split_info(_text(entry.name))
            rel = _join([*rel_parts, sub, unique])
            st = _entry_stat(entry, root, rel, here)
            if st is None:
                continue
            if isinstance(st, SourceProblem):
                yield st
                continue
            path = Path(entry.path)
            if stat.S_ISDIR(st.st_mode):
                continue
            if not stat.S_ISREG(st.st_mode):
                yield _problem(path, rel, here, "not a regular file (device, pipe or socket): not read", source="maildir")
                continue
            yield from _read_eml(path, rel, here, source="maildir", flags=flags)
    for entry in entries:
        if entry.name in _MAILDIR_OWN or not entry.is_dir(follow_symlinks=False):
            continue
        name = _text(entry.name)
        sub_folder = maildirpp_folder(name) if name.startswith(".") else fs_layout_folder(name)
        child = Path(entry.path)
        if sub_folder is None or not is_maildir(child):
            continue
        target = _join([child_base, sub_folder])
        yield from _walk_maildir(child, root, [*rel_parts, name], target, target, override)


def _read_file(path: Path, st: os.stat_result, rel: str, dir_parts: list[str], override: str | None) -> Iterator[Item]:
    here = override if override is not None else _join(dir_parts)
    if not stat.S_ISREG(st.st_mode):
        yield _problem(path, rel, here, "not a regular file (device, pipe or socket): not read")
        return
    try:
        kind = detect_format(path)
    except OSError as exc:
        yield _problem(path, rel, here, f"unreadable file: {exc}")
        return
    if kind == "mbox":
        folder = override if override is not None else _mbox_folder(dir_parts, _text(path.name))
        reader: Iterator[Item] = iter_mbox(path, folder=folder, position=rel, origin=path)
    elif kind == "pst":
        folder = here
        reader = iter_pst(path, position=rel, folder=override, base_folder=_join(dir_parts), origin=path)
    elif kind == "msg":
        folder = here
        reader = iter_msg(path, folder=folder, position=rel, origin=path)
    else:
        folder = here
        reader = _read_eml(path, rel, folder)
    try:
        yield from reader
    except Exception as exc:  # noqa: BLE001 - a reader bug must not end the whole import
        raw = b""
        try:
            if st.st_size <= MAX_WHOLE_FILE_PROBLEM:
                raw = path.read_bytes()
        except OSError:
            pass
        reason = f"the {kind} reader failed: {type(exc).__name__}: {exc}"
        yield _problem(path, rel, folder, reason + ("" if raw else not_kept(path)), raw, kind)


def _read_eml(path: Path, rel: str, folder: str, source: str = "eml", flags: str = "") -> Iterator[Item]:
    """A single message file, byte for byte (even empty or binary: the core decides)."""
    try:
        box = [path.read_bytes()]
    except OSError as exc:
        yield _problem(path, rel, folder, f"unreadable file: {exc}", source=source)
        return
    # Not kept in a local: this generator stays suspended while the message is written.
    yield SourceMessage(raw=box.pop(), folder=folder, source=source, position=rel, origin=path, flags=flags)
