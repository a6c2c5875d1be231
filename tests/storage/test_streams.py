"""Sealed streams: round trip in any chunking, and every kind of damage is refused."""

from __future__ import annotations

import io
import os

import pytest

from mailark.storage.crypto import DataKey, IntegrityError, Sealer
from mailark.storage.streams import MAGIC, SealedStreamWriter, open_sealed_stream


def sealer() -> Sealer:
    return Sealer("org1", DataKey(b"k" * 8, b"\x01" * 32))


def write(data: bytes, block: int = 1000, name: str = "obj") -> bytes:
    sink = io.BytesIO()
    w = SealedStreamWriter(sealer(), name, sink, block_size=block)
    for i in range(0, len(data), 333):
        w.write(data[i : i + 333])
    assert w.tell() == len(data)
    assert w.finish() == len(sink.getvalue())
    return sink.getvalue()


def read(blob: bytes, chunk: int = 4096, name: str = "obj") -> bytes:
    return b"".join(open_sealed_stream(sealer(), name, (blob[i : i + chunk] for i in range(0, len(blob), chunk))))


@pytest.mark.parametrize("size", [0, 1, 999, 1000, 1001, 12345])
@pytest.mark.parametrize("chunk", [1, 77, 1 << 20])
def test_round_trip(size: int, chunk: int) -> None:
    data = os.urandom(size)
    assert read(write(data), chunk) == data


def test_damage_is_refused() -> None:
    data = os.urandom(5000)
    blob = write(data)
    with pytest.raises(IntegrityError, match="truncated"):
        read(blob[:-1])
    # cut exactly after a block: no end mark
    first = len(MAGIC) + 4 + int.from_bytes(blob[len(MAGIC) : len(MAGIC) + 4], "big")
    with pytest.raises(IntegrityError, match="end block is missing"):
        read(blob[:first])
    flipped = bytearray(blob)
    flipped[first - 3] ^= 1
    with pytest.raises(IntegrityError, match="failed authentication"):
        read(bytes(flipped))
    with pytest.raises(IntegrityError):
        read(blob, name="another-object")  # copied under another name
    with pytest.raises(IntegrityError, match="data after its end"):
        read(blob + blob[len(MAGIC) :])


def test_a_block_check_can_stop_the_stream() -> None:
    seen: list[int] = []

    def quota(total: int) -> None:
        seen.append(total)
        if total > 2500:
            raise RuntimeError("full")

    w = SealedStreamWriter(sealer(), "obj", io.BytesIO(), block_size=1000, on_block=quota)
    with pytest.raises(RuntimeError, match="full"):
        w.write(os.urandom(5000))
    assert seen and seen[-1] > 2500
