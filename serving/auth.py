"""API keys: ``Authorization: Bearer <key>``, configured only as hashes.

``CHURNLIGHT_API_KEYS`` (read) and ``CHURNLIGHT_ADMIN_KEYS`` (reload; an admin key also
reads) are comma-separated ``sha256:<hex>`` lists. A presented key is hashed and compared
with every configured hash in constant time (``hmac.compare_digest``, no early exit), so
neither timing nor logs reveal a key. Responses: 401 without a key or with a wrong one (with
``WWW-Authenticate: Bearer``), 403 for a read key on an admin route.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

KEY_PREFIX = "cl_"
MISSING_KEY = "missing API key: send Authorization: Bearer <key>"
INVALID_KEY = "invalid API key"
ADMIN_REQUIRED = "this route needs an admin key"

Role = Literal["read", "admin"]


def hash_key(key: str) -> str:
    """The configured form of a key: ``sha256:<hex of sha256(key)>``."""
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh random key (256 bits) and its hash."""
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    return key, hash_key(key)


@dataclass(frozen=True)
class KeyRing:
    read: tuple[str, ...]
    admin: tuple[str, ...]

    def role_of(self, key: str) -> Role | None:
        """The role of a presented key, comparing against every hash (constant time)."""
        presented = hash_key(key).encode()
        is_admin = False
        is_read = False
        for configured in self.admin:
            is_admin |= hmac.compare_digest(presented, configured.encode())
        for configured in self.read:
            is_read |= hmac.compare_digest(presented, configured.encode())
        if is_admin:
            return "admin"
        return "read" if is_read else None


bearer = HTTPBearer(auto_error=False, description="an API key from `churnlight keys new`")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def require_read(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Role:
    if credentials is None or not credentials.credentials:
        raise _unauthorized(MISSING_KEY)
    role = request.app.state.keys.role_of(credentials.credentials)
    if role is None:
        raise _unauthorized(INVALID_KEY)
    request.scope.setdefault("state", {})["role"] = role
    return role


async def require_admin(role: Annotated[Role, Depends(require_read)]) -> Role:
    if role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, ADMIN_REQUIRED)
    return role


ReadAccess = Annotated[Role, Depends(require_read)]
AdminAccess = Annotated[Role, Depends(require_admin)]
