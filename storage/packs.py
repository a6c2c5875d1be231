"""Pack objects: many small pieces (skeletons, per-copy deltas) of one batch in one object.

Tiny objects are slow and costly on S3, so a batch writes its small pieces into a single pack.
A pack is a run of sealed *blocks*; each block holds several entries compressed together
(small pieces compress far better in company) and is sealed on its own, so reading one entry
costs one ranged read of one block, not the whole pack.

An entry's address is the text ``<pack id>:<block offset>:<block length>:<entry offset>:<entry length>``.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from mailark.storage.crypto import Sealer
from mailark.storage.objects import ObjectStore

BLOCK_TARGET = 256 * 1024


def pack_name(org_id: str, pack_id: str) -> str:
    return f"orgs/{org_id}/packs/{pack_id}"


@dataclass(frozen=True)
class EntryRef:
    pack_id: str
    block_offset: int
    block_length: int
    entry_offset: int
    entry_length: int

    def __str__(self) -> str:
        return f"{self.pack_id}:{self.block_offset}:{self.block_length}:{self.entry_offset}:{self.entry_length}"

    @classmethod
    def parse(cls, text: str) -> EntryRef:
        pack_id, bo, bl, eo, el = text.rsplit(":", 4)
        return cls(pack_id, int(bo), int(bl), int(eo), int(el))


class PackWriter:
    """Collects entries, then seals them into one pack. Entry addresses are known after finish()."""

    def __init__(self, org_id: str, pack_id: str, sealer: Sealer, block_target: int = BLOCK_TARGET) -> None:
        self.org_id = org_id
        self.pack_id = pack_id
        self.name = pack_name(org_id, pack_id)
        self._sealer = sealer
        self._target = block_target
        self._entries: list[bytes] = []

    def add(self, entry: bytes) -> int:
        """Returns the entry's index; its address comes from finish()."""
        self._entries.append(entry)
        return len(self._entries) - 1

    def __len__(self) -> int:
        return len(self._entries)

    def finish(self) -> tuple[bytes, list[EntryRef], int]:
        """(pack bytes, entry addresses by index, plain bytes)."""
        out = bytearray()
        refs: list[EntryRef] = []
        block = bytearray()
        pending: list[tuple[int, int]] = []
        plain = 0

        def seal_block() -> None:
            offset = len(out)
            sealed = self._sealer.seal(bytes(block), f"{self.name}#{offset}")
            out.extend(sealed)
            refs.extend(EntryRef(self.pack_id, offset, len(sealed), eo, el) for eo, el in pending)

        for e in self._entries:
            pending.append((len(block), len(e)))
            block += e
            plain += len(e)
            if len(block) >= self._target:
                seal_block()
                block, pending = bytearray(), []
        if pending:
            seal_block()
        return bytes(out), refs, plain


class PackReader:
    """Reads entries, keeping a few opened blocks: the entries of one batch are read together."""

    def __init__(self, org_id: str, store: ObjectStore, sealer: Sealer, cache_blocks: int = 16) -> None:
        self.org_id = org_id
        self._store = store
        self._sealer = sealer
        self._cache: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._max = cache_blocks

    def read(self, ref: EntryRef | str) -> bytes:
        if isinstance(ref, str):
            ref = EntryRef.parse(ref)
        key = (ref.pack_id, ref.block_offset)
        block = self._cache.get(key)
        if block is None:
            name = pack_name(self.org_id, ref.pack_id)
            sealed = self._store.get_range(name, ref.block_offset, ref.block_length)
            block = self._sealer.open(sealed, f"{name}#{ref.block_offset}")
            self._cache[key] = block
            if len(self._cache) > self._max:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return block[ref.entry_offset : ref.entry_offset + ref.entry_length]
