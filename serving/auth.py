"""API keys: ``Authorization: Bearer <key>``, configured only as hashes, optionally named.

``CHURNLIGHT_API_KEYS`` (read) and ``CHURNLIGHT_ADMIN_KEYS`` (reload; an admin key also
reads) are comma-separated entries ``[name:]sha256:<hex>``. The name (``crm``, ``warehouse``)
says which integration calls: it is in the access log and in the metrics, and the per-key
limits (``serving.limits``) count per name, so two keys of one name (a rotation) share them.
An entry without a name is called ``sha256:<first 8 hex digits>``.

A presented key is hashed and compared with every configured hash in constant time
(``hmac.compare_digest``, no early exit), so neither timing nor logs reveal a key. Errors:
401 without a key or with a wrong one (``WWW-Authenticate: Bearer``), 403 for a read key on
an admin route.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from features.errors import ConfigError
from serving.errors import AdminRequired, InvalidKey, MissingKey
from serving.problems import MISSING_KEY_DETAIL as MISSING_KEY

KEY_PREFIX = "cl_"
INVALID_KEY = "invalid API key"
ADMIN_REQUIRED = "this route needs an admin key"
KEY_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"
KEY_ENTRY = re.compile(rf"^(?:(?P<name>{KEY_NAME}):)?(?P<hash>sha256:[0-9a-f]{{64}})$")
"""A configured key: ``[name:]sha256:<64 hex digits>``."""

Role = Literal["read", "admin"]


def hash_key(key: str) -> str:
    """The configured form of a key: ``sha256:<hex of sha256(key)>``."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def new_key(name: str | None = None) -> tuple[str, str]:
    """A fresh random key (256 bits) and the entry to configure: its hash, after ``name:``
    when a name is given."""
    if name is not None and re.fullmatch(KEY_NAME, name) is None:
        raise ConfigError(
            f"key name {name!r} is not 1-64 letters, digits, '_', '.' or '-' (starting with a "
            "letter or digit); choose another"
        )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    digest = hash_key(key)
    return key, f"{name}:{digest}" if name else digest


def split_entry(entry: str) -> tuple[str, str]:
    """``(name, sha256:<hex>)`` of a configured entry (validated by the settings)."""
    match = KEY_ENTRY.match(entry)
    if match is None:
        raise ValueError("not a key entry of the form [name:]sha256:<64 hex digits>")
    digest = match.group("hash")
    return match.group("name") or digest[:15], digest


@dataclass(frozen=True)
class Caller:
    """Who called: the key's name and role."""

    name: str
    role: Role


@dataclass(frozen=True)
class KeyRing:
    """Configured keys as ``(name, hash bytes, role)``."""

    entries: tuple[tuple[str, bytes, Role], ...]

    @classmethod
    def from_entries(cls, read: Iterable[str], admin: Iterable[str]) -> KeyRing:
        entries: list[tuple[str, bytes, Role]] = []
        for role, configured in (("admin", admin), ("read", read)):
            for entry in configured:
                name, digest = split_entry(entry)
                entries.append((name, digest.encode(), role))  # type: ignore[arg-type]
        return cls(tuple(entries))

    def identify(self, key: str) -> Caller | None:
        """The caller a presented key is, comparing against every hash (constant time);
        an admin entry wins over a read entry of the same hash."""
        return self.identify_hash(hash_key(key))

    def identify_hash(self, digest: str) -> Caller | None:
        """The caller whose configured hash is ``digest`` (``sha256:<hex>``; the web pages'
        session keeps the hash, never the key), compared like ``identify``."""
        presented = digest.encode()
        found: Caller | None = None
        for name, configured, role in self.entries:
            if hmac.compare_digest(presented, configured) and (found is None or role == "admin"):
                found = Caller(name, role)
        return found

    def role_of(self, key: str) -> Role | None:
        caller = self.identify(key)
        return caller.role if caller else None


bearer = HTTPBearer(auto_error=False, description="an API key from `churnlight keys new`")


async def require_read(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None or not credentials.credentials:
        raise MissingKey(MISSING_KEY)
    caller = request.app.state.keys.identify(credentials.credentials)
    if caller is None:
        raise InvalidKey(INVALID_KEY)
    state = request.scope.setdefault("state", {})
    state["role"] = caller.role
    state["key"] = caller.name
    return caller


async def require_admin(caller: Annotated[Caller, Depends(require_read)]) -> Caller:
    if caller.role != "admin":
        raise AdminRequired(ADMIN_REQUIRED)
    return caller


ReadAccess = Annotated[Caller, Depends(require_read)]
AdminAccess = Annotated[Caller, Depends(require_admin)]
