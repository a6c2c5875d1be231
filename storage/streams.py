"""Sealed streams: a large object (an export zip, a backup) sealed in independent blocks.

A zip of a whole archive can be many gigabytes, so it is neither built nor sealed in memory: the
writer seals every block of `block_size` plain bytes on its own (AES-256-GCM via `Sealer`, as the
packs do) and appends it to a file; the reader opens one block at a time while the object streams
in. Memory stays at about one block either way.

Layout: ``MAGIC`` then records of ``4-byte big-endian length | sealed block``. Block *i* is sealed
with the context ``<name>#<i>``, the last one with ``<name>#<i>#end``: a block moved, dropped,
reordered or taken from another object fails authentication, and a stream cut after any block
lacks its end mark and is refused.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable, Iterable, Iterator
from typing import BinaryIO

from mailark.storage.crypto import IntegrityError, Sealer

MAGIC = b"MASEALED1\n"
BLOCK_SIZE = 1 << 20
_LEN = struct.Struct(">I")


class SealedStreamWriter(io.RawIOBase):
    """A write-only, non-seekable file object: what is written is sealed block by block into `sink`.

    `on_block(total)` is called with the sealed bytes written so far before each block goes out;
    it may raise (a quota check) to stop the stream. `tell()` reports plain bytes, as zipfile needs.
    """

    def __init__(
        self,
        sealer: Sealer,
        name: str,
        sink: BinaryIO,
        *,
        block_size: int = BLOCK_SIZE,
        compress: bool = False,
        on_block: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__()
        self._sealer, self._name, self._sink = sealer, name, sink
        self._size, self._compress, self._on_block = block_size, compress, on_block
        self._buf = bytearray()
        self._index = 0
        self._plain = 0
        self.sealed_bytes = len(MAGIC)
        self._finished = False
        sink.write(MAGIC)

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._plain

    def write(self, b: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        if self._finished:
            raise ValueError("write to a finished sealed stream")
        n = len(b)
        self._buf += b
        self._plain += n
        while len(self._buf) >= self._size:
            self._emit(bytes(self._buf[: self._size]), last=False)
            del self._buf[: self._size]
        return n

    def _emit(self, plain: bytes, *, last: bool) -> None:
        context = f"{self._name}#{self._index}" + ("#end" if last else "")
        sealed = self._sealer.seal(plain, context, compress=self._compress)
        if self._on_block is not None:
            self._on_block(self.sealed_bytes + _LEN.size + len(sealed))
        self._sink.write(_LEN.pack(len(sealed)))
        self._sink.write(sealed)
        self.sealed_bytes += _LEN.size + len(sealed)
        self._index += 1

    def finish(self) -> int:
        """Seal what is left as the end block; returns the sealed size. Does not close `sink`."""
        if not self._finished:
            self._emit(bytes(self._buf), last=True)
            self._buf.clear()
            self._finished = True
        return self.sealed_bytes

    def close(self) -> None:
        # Closing without finish() (an error unwinding) must not write an end block.
        self._finished = True
        super().close()


def open_sealed_stream(sealer: Sealer, name: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Plain blocks of a sealed stream, opened as the sealed bytes arrive in `chunks` of any size."""
    buf = bytearray()
    it = iter(chunks)
    index = 0
    ended = False

    def fill(n: int) -> bool:
        while len(buf) < n:
            try:
                buf.extend(next(it))
            except StopIteration:
                return False
        return True

    if not fill(len(MAGIC)) or bytes(buf[: len(MAGIC)]) != MAGIC:
        raise IntegrityError(f"{name!r} is not a mailark sealed stream")
    del buf[: len(MAGIC)]
    while fill(1):
        if ended:
            raise IntegrityError(f"{name!r} has data after its end block: it was altered")
        if not fill(_LEN.size):
            raise IntegrityError(f"{name!r} is truncated inside a block header")
        (n,) = _LEN.unpack(bytes(buf[: _LEN.size]))
        if not fill(_LEN.size + n):
            raise IntegrityError(f"{name!r} is truncated inside block {index}")
        sealed = bytes(buf[_LEN.size : _LEN.size + n])
        del buf[: _LEN.size + n]
        try:
            plain = sealer.open(sealed, f"{name}#{index}")
        except IntegrityError:
            plain = sealer.open(sealed, f"{name}#{index}#end")  # raises if neither context fits
            ended = True
        index += 1
        yield plain
    if not ended:
        raise IntegrityError(f"{name!r} is truncated: its end block is missing")
