"""Sealing of stored bytes: zstd, then AES-256-GCM under an organization's data key.

Every sealed blob starts with a small header so it can be opened years later, after key
rotation: ``b"MA" | version | flags | key id (8 bytes) | nonce (12 bytes)``. The header and the
caller's context (organization and object name) are authenticated data, so a blob copied to
another name or another organization fails to open instead of yielding someone else's mail.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"MA"
FORMAT_VERSION = 1
FLAG_ZSTD = 0x01
_HEADER = struct.Struct(">2sBB8s12s")
HEADER_SIZE = _HEADER.size  # 24 bytes
TAG_SIZE = 16  # the GCM tag after the ciphertext
SAMPLE_ABOVE = 4 << 20  # larger blobs are compressed only when samples of them compress
SAMPLE_BYTES = 256 << 10  # each of three samples (start, a third in, end)
COMPRESS_PIECE = 4 << 20  # a large blob is compressed in pieces of this size


class IntegrityError(ValueError):
    """A stored blob failed authentication or its header is not ours: tampered, truncated or misplaced."""


@dataclass(frozen=True)
class DataKey:
    key_id: bytes  # 8 bytes, written into every blob header
    key: bytes  # 32 bytes, AES-256


class Sealer:
    """Seals and opens blobs for one organization. Holds reusable (de)compressors: not thread-safe."""

    def __init__(
        self,
        org_id: str,
        active_key: DataKey,
        all_keys: Mapping[bytes, DataKey] | None = None,
        zstd_level: int = 3,
    ) -> None:
        self.org_id = org_id
        self._active = active_key
        self._aead = {k.key_id: AESGCM(k.key) for k in (all_keys or {}).values()}
        self._aead[active_key.key_id] = AESGCM(active_key.key)
        self._cctx = zstandard.ZstdCompressor(level=zstd_level)
        self._dctx = zstandard.ZstdDecompressor()
        self._org = org_id.encode()
        self._zstd_level = zstd_level

    def copy(self) -> Sealer:
        """The same keys with its own (de)compressors, for another thread (a Sealer is not thread-safe;
        the AEAD and zstd calls themselves release the GIL, so threads seal and open in parallel)."""
        active = self._active
        twin = Sealer.__new__(Sealer)
        twin.org_id, twin._active, twin._aead, twin._org = self.org_id, active, self._aead, self._org
        twin._zstd_level = self._zstd_level
        twin._cctx = zstandard.ZstdCompressor(level=self._zstd_level)
        twin._dctx = zstandard.ZstdDecompressor()
        return twin

    def _aad(self, header: bytes, context: str) -> bytes:
        return header + self._org + b"\0" + context.encode()

    def _may_pay(self, plain: bytes) -> bool:
        """For a large blob, whether samples of it compress: an incompressible attachment (zip, JPEG,
        PDF) is not compressed whole only to throw away a second copy of its size."""
        if len(plain) <= SAMPLE_ABOVE:
            return True
        view = memoryview(plain)
        third = len(plain) // 3
        sample = b"".join(view[at : at + SAMPLE_BYTES] for at in (0, third, len(plain) - SAMPLE_BYTES))
        return len(self._cctx.compress(sample)) < len(sample) - len(sample) // 64

    def _compress_large(self, plain: bytes) -> bytearray:
        """The same zstd frame as `compress` (content size in its header), made piece by piece: the
        one-shot call reserves the worst-case output (a copy of the input's size) before it starts."""
        cobj = self._cctx.compressobj(size=len(plain))
        out = bytearray()
        with memoryview(plain) as view:
            for at in range(0, len(plain), COMPRESS_PIECE):
                out += cobj.compress(view[at : at + COMPRESS_PIECE])
        out += cobj.flush()
        return out

    def seal(self, plain: bytes, context: str, *, compress: bool = True) -> bytes | bytearray:
        """Compress when it pays, then encrypt. `context` is normally the object name. A blob over
        SAMPLE_ABOVE comes back as a bytearray (written in place); store it as it is."""
        flags = 0
        body = plain
        if compress and len(plain) > 64 and self._may_pay(plain):
            packed = self._cctx.compress(plain) if len(plain) <= SAMPLE_ABOVE else self._compress_large(plain)
            if len(packed) < len(plain) - len(plain) // 64:
                body, flags = packed, FLAG_ZSTD
        nonce = os.urandom(12)
        header = _HEADER.pack(MAGIC, FORMAT_VERSION, flags, self._active.key_id, nonce)
        aead = self._aead[self._active.key_id]
        if len(body) <= SAMPLE_ABOVE:
            return header + aead.encrypt(nonce, body, self._aad(header, context))
        # A large blob is encrypted straight into its place after the header: no ciphertext
        # copy next to the sealed blob (the same bytes as above, so the format is unchanged).
        sealed = bytearray(HEADER_SIZE + len(body) + TAG_SIZE)
        sealed[:HEADER_SIZE] = header
        with memoryview(sealed) as view:
            aead.encrypt_into(nonce, body, self._aad(header, context), view[HEADER_SIZE:])
        return sealed

    def open(self, blob: bytes, context: str) -> bytes:
        if len(blob) < HEADER_SIZE + 16:
            raise IntegrityError(f"stored object {context!r} is truncated ({len(blob)} bytes)")
        header = blob[:HEADER_SIZE]
        magic, version, flags, key_id, nonce = _HEADER.unpack(header)
        if magic != MAGIC or version != FORMAT_VERSION:
            raise IntegrityError(f"stored object {context!r} has no mailark header (version {version})")
        aead = self._aead.get(key_id)
        if aead is None:
            raise IntegrityError(
                f"stored object {context!r} was sealed with key {key_id.hex()}, which this "
                f"organization no longer has (keys destroyed or rotated away)"
            )
        try:
            with memoryview(blob) as view:  # the ciphertext is read in place, not copied first
                body = aead.decrypt(nonce, view[HEADER_SIZE:], self._aad(header, context))
        except InvalidTag:
            raise IntegrityError(
                f"stored object {context!r} failed authentication: it was altered, or belongs "
                f"to another name or organization"
            ) from None
        if flags & FLAG_ZSTD:
            return self._dctx.decompress(body)
        return body
