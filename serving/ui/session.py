"""The web pages' session: a signed cookie that names the caller, never carries the key.

The cookie holds ``{"sid", "key", "csrf", "exp", "csm"}``: a random session id, the SHA-256
of the API key that signed in (as configured in ``CHURNLIGHT_API_KEYS``; the key itself is
never stored, shown, put in a URL or logged), the session's CSRF token, the expiry (Unix
seconds) and the CSM id the user picked as theirs ("My accounts"). It is signed with
HMAC-SHA256 under ``CHURNLIGHT_UI_SESSION_SECRET`` (a random secret per process when unset)
and set ``HttpOnly; SameSite=Strict; Path=/ui`` (``Secure`` over HTTPS). A cookie whose
signature, form or expiry fails is no session at all.

Every request re-identifies the key hash against the configured keys, so a key removed from
the configuration loses its sessions with the next start. Signing out revokes the session id
in the process (until its expiry), so a copied cookie does not outlive a sign-out.

Before sign-in a session has no key but has a CSRF token (the sign-in form is CSRF-safe
too); signing in issues a new session id and token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass

from serving.auth import Caller, KeyRing

COOKIE = "churnlight_ui"
COOKIE_PATH = "/ui"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Session:
    sid: str
    key: str | None
    """``sha256:<hex>`` of the signed-in key; None before sign-in."""
    csrf: str
    expires: int
    csm: str | None = None
    """the CSM id the user chose as theirs: "My accounts" filters on it"""

    @classmethod
    def anonymous(cls, minutes: int) -> Session:
        return cls(_token(), None, _token(), int(time.time()) + 60 * minutes)

    @classmethod
    def signed_in(cls, key_hash: str, minutes: int) -> Session:
        return cls(_token(), key_hash, _token(), int(time.time()) + 60 * minutes)

    def csrf_ok(self, presented: str | None) -> bool:
        """The form's token is this session's (constant-time comparison)."""
        return presented is not None and hmac.compare_digest(presented.encode(), self.csrf.encode())


def _token() -> str:
    return secrets.token_urlsafe(24)


class Signer:
    """Encodes and verifies session cookies; remembers revoked session ids until they expire."""

    def __init__(self, secret: str | None, minutes: int) -> None:
        self._secret = (secret or secrets.token_urlsafe(48)).encode()
        self.minutes = minutes
        self._revoked: dict[str, int] = {}
        self._lock = threading.Lock()

    def encode(self, session: Session) -> str:
        payload = {"sid": session.sid, "key": session.key, "csrf": session.csrf}
        payload["exp"] = session.expires  # type: ignore[assignment]
        payload["csm"] = session.csm
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{_b64(self._mac(body))}"

    def decode(self, cookie: str | None) -> Session | None:
        """The session of a cookie, or None when it is missing, forged, expired or revoked."""
        if not cookie or cookie.count(".") != 1:
            return None
        body, mac = cookie.split(".")
        try:
            given = _unb64(mac)
            data = json.loads(_unb64(body))
        except (ValueError, binascii.Error):
            return None
        if not hmac.compare_digest(given, self._mac(body)) or not isinstance(data, dict):
            return None
        sid, key, csrf, expires, csm = (data.get(k) for k in ("sid", "key", "csrf", "exp", "csm"))
        if not (isinstance(sid, str) and isinstance(csrf, str) and isinstance(expires, int)):
            return None
        if not all(v is None or isinstance(v, str) for v in (key, csm)):
            return None
        if expires <= time.time() or self.revoked(sid):
            return None
        return Session(sid, key, csrf, expires, csm)

    def revoke(self, session: Session) -> None:
        now = time.time()
        with self._lock:
            self._revoked = {s: e for s, e in self._revoked.items() if e > now}
            self._revoked[session.sid] = session.expires

    def revoked(self, sid: str) -> bool:
        return sid in self._revoked

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._secret, body.encode(), hashlib.sha256).digest()


def caller_of(session: Session | None, keys: KeyRing) -> Caller | None:
    """Who a signed-in session is, while its key is still configured."""
    if session is None or session.key is None:
        return None
    return keys.identify_hash(session.key)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
