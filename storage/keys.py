"""Per-organization keys and the master key that wraps them.

Each organization has a *naming key* (HMAC-SHA256 of content gives object names, so equal
content dedups inside the organization and never across) and a *data key* (AES-256-GCM).
Both are stored only wrapped by the master key; each carries an id so it can be rotated.
Destroying an organization's wrapped keys makes its objects unreadable (crypto-shredding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from mailark.storage.crypto import DataKey

KEY_BYTES = 32


class KeyUnavailable(RuntimeError):
    """A key could not be loaded or unwrapped; the message says which and what to do."""


@dataclass(frozen=True)
class WrappedKey:
    purpose: str  # "naming" | "data"
    key_id: str  # hex of 8 bytes
    wrapped: bytes  # nonce + AES-GCM(master, key)
    master_key_id: str


@dataclass(frozen=True)
class MasterKey:
    key: bytes = field(repr=False)

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"mailark-master-key-id" + self.key).hexdigest()[:16]

    def wrap(self, org_id: str, purpose: str, key_id: str, key: bytes) -> WrappedKey:
        nonce = os.urandom(12)
        aad = f"{org_id}\0{purpose}\0{key_id}".encode()
        return WrappedKey(purpose, key_id, nonce + AESGCM(self.key).encrypt(nonce, key, aad), self.key_id)

    def unwrap(self, org_id: str, wk: WrappedKey) -> bytes:
        if wk.master_key_id != self.key_id:
            raise KeyUnavailable(
                f"the {wk.purpose} key of organization {org_id} is wrapped by master key "
                f"{wk.master_key_id}, but the configured master key is {self.key_id}: "
                f"set MAILARK_MASTER_KEY or MAILARK_MASTER_KEY_FILE to the right key"
            )
        aad = f"{org_id}\0{wk.purpose}\0{wk.key_id}".encode()
        try:
            return AESGCM(self.key).decrypt(wk.wrapped[:12], wk.wrapped[12:], aad)
        except InvalidTag:
            raise KeyUnavailable(f"the {wk.purpose} key of organization {org_id} failed to unwrap") from None


def load_master_key(env_value: str | None, path: Path, *, create: bool = True) -> MasterKey:
    """From the environment (base64) if given, else from a file, created with mode 0600 on first use."""
    if env_value:
        try:
            raw = base64.b64decode(env_value, validate=True)
        except ValueError:
            raw = b""
        if len(raw) != KEY_BYTES:
            raise KeyUnavailable("MAILARK_MASTER_KEY must be the base64 of exactly 32 bytes")
        return MasterKey(raw)
    if path.exists():
        raw = base64.b64decode(path.read_bytes().strip())
        if len(raw) != KEY_BYTES:
            raise KeyUnavailable(f"master key file {path} does not hold base64 of 32 bytes")
        return MasterKey(raw)
    if not create:
        raise KeyUnavailable(f"no master key: {path} does not exist and MAILARK_MASTER_KEY is not set")
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = os.urandom(KEY_BYTES)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(base64.b64encode(raw) + b"\n")
        f.flush()
        os.fsync(f.fileno())
    return MasterKey(raw)


@dataclass(frozen=True)
class OrgKeys:
    """The unwrapped keys of one organization, held only in memory while it is worked on."""

    org_id: str
    naming_key: bytes = field(repr=False)
    data_key: DataKey = field(repr=False)
    old_data_keys: tuple[DataKey, ...] = field(default=(), repr=False)

    def name_digest(self, content: bytes) -> bytes:
        """The 32-byte HMAC that names content; equal bytes give equal names in one organization."""
        return hmac.digest(self.naming_key, content, "sha256")

    def all_data_keys(self) -> dict[bytes, DataKey]:
        keys = {k.key_id: k for k in self.old_data_keys}
        keys[self.data_key.key_id] = self.data_key
        return keys


def new_org_keys(org_id: str, master: MasterKey) -> tuple[OrgKeys, list[WrappedKey]]:
    naming, data = os.urandom(KEY_BYTES), os.urandom(KEY_BYTES)
    naming_id, data_id = os.urandom(8), os.urandom(8)
    keys = OrgKeys(org_id, naming, DataKey(data_id, data))
    wrapped = [
        master.wrap(org_id, "naming", naming_id.hex(), naming),
        master.wrap(org_id, "data", data_id.hex(), data),
    ]
    return keys, wrapped


def unwrap_org_keys(org_id: str, master: MasterKey, wrapped: list[WrappedKey], active_data_key_id: str) -> OrgKeys:
    naming = [w for w in wrapped if w.purpose == "naming"]
    datas = [w for w in wrapped if w.purpose == "data"]
    if not naming or not datas:
        raise KeyUnavailable(f"organization {org_id} has no keys (destroyed?): its archive cannot be read")
    data_keys = [DataKey(bytes.fromhex(w.key_id), master.unwrap(org_id, w)) for w in datas]
    active = next((k for k in data_keys if k.key_id.hex() == active_data_key_id), data_keys[-1])
    return OrgKeys(
        org_id,
        master.unwrap(org_id, naming[-1]),
        active,
        tuple(k for k in data_keys if k is not active),
    )
