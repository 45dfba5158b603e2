"""ID tokens: verified with google-auth (signature, audience, expiry), then the issuer.

In production the issuer is Google (`gcloud auth print-identity-token`, application-default
credentials, a service account's token) and the keys are Google's published certificates;
on the local stack the issuer is stack/oidc.py, whose keys are published the same way. The
same code checks both: only the configuration (shared/platform/config.py) differs.

The keys are fetched once and kept for the max-age the issuer answers with (at most an hour);
a token signed by a key we do not know yet makes one fresh fetch (a rotation), at most once a
minute.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import google.auth.exceptions
import google.auth.jwt
from google.oauth2 import id_token

from shared.platform import config

MAX_AGE_S = 3600
DEFAULT_AGE_S = 300
CLOCK_SKEW_S = 10
MAX_LIFETIME_S = 3600  # exp - iat, and exp - now, at most this (plus the clock skew)
REFETCH_S = 60  # an unknown key id fetches the keys again at most this often


class Unauthenticated(Exception):
    """No token, or one that does not verify: answered 401 (the reason is logged, not sent)."""


@dataclass(frozen=True)
class Identity:
    principal: str  # the verified e-mail, else sub:<subject>
    groups: tuple[str, ...]
    issuer: str
    expires: int


class _Certs:
    """The certificates of one URL, kept for their max-age."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_url: dict[str, tuple[float, dict[str, Any]]] = {}
        self._fetched: dict[str, float] = {}  # when each URL was last fetched

    def get(self, url: str, *, fresh: bool = False) -> dict[str, Any]:
        """The kept certificates while their max-age lasts; FRESH (a key we do not know) fetches
        again, but at most once per REFETCH_S, so tokens naming made-up keys cannot make
        every request a fetch."""
        with self._lock:
            kept = self._by_url.get(url)
            now = time.monotonic()
            recent = now - self._fetched.get(url, -REFETCH_S) < REFETCH_S
            if kept and kept[0] > now and (not fresh or recent):
                return dict(kept[1])
            self._fetched[url] = now
        with urllib.request.urlopen(url, timeout=10) as resp:
            certs = json.loads(resp.read())
            age = _max_age(resp.headers.get("Cache-Control", ""))
        with self._lock:
            self._by_url[url] = (time.monotonic() + age, certs)
        return dict(certs)


def _max_age(cache_control: str) -> int:
    found = re.search(r"max-age=(\d+)", cache_control)
    return min(int(found.group(1)), MAX_AGE_S) if found else DEFAULT_AGE_S


CERTS = _Certs()


class _Response:
    """What google-auth's certificate fetch reads: status and data."""

    def __init__(self, data: bytes) -> None:
        self.status = 200
        self.headers: dict[str, str] = {}
        self.data = data


def _verify(token: str, certs: Mapping[str, Any], audiences: tuple[str, ...], url: str) -> Mapping[str, Any]:
    def request(_url: str, method: str = "GET", **_: Any) -> _Response:
        return _Response(json.dumps(certs).encode())

    return id_token.verify_token(
        token,
        request,  # type: ignore[arg-type]  # google-auth calls it as a transport.Request
        audience=list(audiences),
        certs_url=url,
        clock_skew_in_seconds=CLOCK_SKEW_S,
    )


# A refusal's reason is one of these fixed words (it is logged and audited): a library's
# message can repeat the token (google-auth: "Wrong number of segments in token: b'<token>'"),
# so none is ever passed through.
_CATEGORIES = (
    ("expired", "expired"),
    ("too early", "not yet valid"),
    ("audience", "wrong audience"),
    ("signature", "bad signature"),
    ("key id", "unknown signing key"),
    ("certificate", "unknown signing key"),
)


def _category(exc: Exception) -> str:
    """The fixed reason for a library's refusal (never its text)."""
    message = str(exc).lower()
    for needle, category in _CATEGORIES:
        if needle in message:
            return category
    return "malformed token"


def _check_times(claims: Mapping[str, Any], now: float) -> None:
    """nbf (google-auth checks only iat and exp), and a lifetime of at most MAX_LIFETIME_S:
    Google's ID tokens last an hour, and a longer one would outlive any revocation (and
    become the cookie's Max-Age)."""
    nbf, exp, iat = claims.get("nbf"), claims.get("exp"), claims.get("iat")
    if nbf is not None and (not isinstance(nbf, int | float) or nbf > now + CLOCK_SKEW_S):
        raise Unauthenticated("not yet valid")
    if not isinstance(exp, int | float) or exp - now > MAX_LIFETIME_S + CLOCK_SKEW_S:
        raise Unauthenticated("lifetime too long")
    if isinstance(iat, int | float) and exp - iat > MAX_LIFETIME_S + CLOCK_SKEW_S:
        raise Unauthenticated("lifetime too long")


def canonical(token: str) -> bool:
    """Three base64url segments that re-encode to themselves: nothing after the signature, no
    padding or other characters a lenient decoder would skip (the browser's cookie is built
    from the token, so a token that verifies is also a safe cookie value)."""
    parts = token.split(".")
    if len(parts) != 3:
        return False
    for part in parts:
        if not part or not _B64URL.fullmatch(part):
            return False
        try:
            decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        except ValueError:
            return False
        if base64.urlsafe_b64encode(decoded).rstrip(b"=").decode() != part:
            return False
    return True


_B64URL = re.compile(r"[A-Za-z0-9_-]+")


def verify(token: str) -> Identity:
    """The identity of a verified token; Unauthenticated with the reason otherwise."""
    audiences, issuers, url = config.api_audiences(), config.api_issuers(), config.api_certs_url()
    if not token:
        raise Unauthenticated("no token")
    if not audiences:
        raise Unauthenticated("GITOPS_API_AUDIENCE is not set: no token can be accepted")
    if not canonical(token):
        raise Unauthenticated("malformed token")
    try:
        kid = str(google.auth.jwt.decode_header(token).get("kid") or "")
        certs = CERTS.get(url)
        if kid and "keys" not in certs and kid not in certs:
            certs = CERTS.get(url, fresh=True)  # a key rotated in since we fetched
        claims = _verify(token, certs, audiences, url)
    except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
        raise Unauthenticated(_category(exc)) from None
    except ImportError:  # a JWKS URL: google-auth reads those with PyJWT
        raise Unauthenticated("the issuer's keys are a JWKS, which needs PyJWT") from None
    except OSError:
        raise Unauthenticated("the issuer's keys cannot be fetched") from None
    if claims.get("iss") not in issuers:
        raise Unauthenticated("wrong issuer")
    _check_times(claims, time.time())
    email = claims.get("email")
    if email and claims.get("email_verified") not in (True, "true"):
        raise Unauthenticated("e-mail not verified")  # missing counts as not verified
    # without an e-mail the subject, in a namespace of its own (an e-mail has no "sub:")
    principal = str(email) if email else f"sub:{claims['sub']}" if claims.get("sub") else ""
    if not principal:
        raise Unauthenticated("no principal")
    groups = claims.get("groups") or []
    return Identity(
        principal,
        tuple(str(g) for g in groups if isinstance(g, str)),
        str(claims["iss"]),
        int(claims.get("exp") or 0),
    )
