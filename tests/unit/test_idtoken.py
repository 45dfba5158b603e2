"""ID token verification (shared/adapters/idtoken.py) with google-auth, no servers: the issuer's
certificates are handed in as the cache would hold them. Signature, audience, expiry, issuer."""

from __future__ import annotations

import pytest

from shared.adapters import idtoken
from stack import oidc

ISSUER, AUDIENCE = "http://127.0.0.1:1", "http://127.0.0.1:2"
KEY, CERT = oidc.new_key()


@pytest.fixture(autouse=True)
def issuer(monkeypatch):
    monkeypatch.setenv("GITOPS_OIDC_ISSUER", ISSUER)
    monkeypatch.setenv("GITOPS_OIDC_CERTS_URL", f"{ISSUER}/certs")
    monkeypatch.setenv("GITOPS_API_AUDIENCE", AUDIENCE)
    monkeypatch.setattr(idtoken.CERTS, "get", lambda url, fresh=False: {"k1": CERT.decode()})


def token(key: bytes = KEY, **changes) -> str:
    claims = {"issuer": ISSUER, "audience": AUDIENCE, "email": "ann@example.com", "groups": ["devs"]}
    return oidc.sign(key, "k1", **{**claims, **changes})


def test_a_good_token_names_its_principal_and_groups():
    who = idtoken.verify(token())
    assert (who.principal, who.groups, who.issuer) == ("ann@example.com", ("devs",), ISSUER)


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: "", "no token"),
        (lambda: "a.b.c", ""),
        (lambda: token(oidc.new_key()[0]), "signature"),
        (lambda: token(ttl_s=-120), "expired"),
        (lambda: token(audience="https://elsewhere"), "audience"),
        (lambda: token(issuer="https://evil.example"), "issuer"),
    ],
    ids=["none", "garbage", "forged", "expired", "audience", "issuer"],
)
def test_a_bad_token_is_refused(make, reason):
    with pytest.raises(idtoken.Unauthenticated, match=f"(?i){reason}"):
        idtoken.verify(make())


def test_no_audience_configured_refuses_everything(monkeypatch):
    monkeypatch.setenv("GITOPS_API_AUDIENCE", "")
    with pytest.raises(idtoken.Unauthenticated, match="GITOPS_API_AUDIENCE"):
        idtoken.verify(token())


FIXED_REASONS = {
    "no token",
    "expired",
    "not yet valid",
    "wrong audience",
    "bad signature",
    "unknown signing key",
    "malformed token",
    "wrong issuer",
    "e-mail not verified",
    "lifetime too long",
}


def test_a_refusal_never_repeats_the_token():
    good = token()
    forged = token(oidc.new_key()[0])
    for bad in (forged, good + ".", good + "..x", forged.split(".")[0] + ".x", "x" * 40 + ".y.z", good[:-5]):
        with pytest.raises(idtoken.Unauthenticated) as err:
            idtoken.verify(bad)
        # a fixed category, never a library's text (which can hold the whole token)
        assert str(err.value) in FIXED_REASONS, str(err.value)
        assert not any(part and part in str(err.value) for part in bad.split(".") if len(part) > 8)


def test_an_unknown_key_id_fetches_the_keys_again_at_most_once_a_minute(monkeypatch):
    import io
    import json
    import typing

    fetches = []

    class Answer(io.BytesIO):
        headers: typing.ClassVar = {"Cache-Control": "max-age=3600"}

        def __enter__(self):
            return self

        def __exit__(self, *_):
            return False

    def urlopen(url, timeout):
        fetches.append(url)
        return Answer(json.dumps({"k1": CERT.decode()}).encode())

    monkeypatch.setattr(idtoken.urllib.request, "urlopen", urlopen)
    certs = idtoken._Certs()
    monkeypatch.setattr(idtoken, "CERTS", certs)
    unknown = oidc.sign(KEY, "made-up", issuer=ISSUER, audience=AUDIENCE, email="ann@example.com")
    for _ in range(20):
        with pytest.raises(idtoken.Unauthenticated, match="unknown signing key"):
            idtoken.verify(unknown)
    assert len(fetches) == 1  # the first fetch; no refetch within REFETCH_S
    idtoken.verify(token())  # the kept keys still verify
    assert len(fetches) == 1


@pytest.mark.parametrize(
    ("make", "ok"),
    [
        (lambda t: t, True),
        (lambda t: t + "==", False),  # junk after the signature a lenient decoder skips
        (lambda t: t + "; Path=/ui; Max-Age=99999999", False),
        (lambda t: t + ".", False),
        (lambda t: t.replace(".", "..", 1), False),
        (lambda t: " " + t, False),
        (lambda t: t[:-1] + "+", False),  # base64, not base64url
    ],
)
def test_only_a_token_that_re_encodes_identically_is_accepted(make, ok):
    changed = make(token())
    assert idtoken.canonical(changed) is ok
    if not ok:
        with pytest.raises(idtoken.Unauthenticated, match="malformed token"):
            idtoken.verify(changed)


def claims_token(**changes) -> str:
    import time

    from google.auth import crypt, jwt

    now = int(time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "1234",
        "email": "ann@example.com",
        "email_verified": True,
        "iat": now,
        "exp": now + 3600,
        **changes,
    }
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(crypt.RSASigner.from_string(KEY, "k1"), payload).decode()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"nbf": int(__import__("time").time()) + 600}, "not yet valid"),
        ({"nbf": "soon"}, "not yet valid"),
        ({"exp": int(__import__("time").time()) + 10 * 365 * 86400}, "lifetime too long"),
        (
            {"iat": int(__import__("time").time()) - 3000, "exp": int(__import__("time").time()) + 3000},
            "lifetime too long",
        ),
        ({"email_verified": None}, "e-mail not verified"),  # missing is not verified
        ({"email_verified": False}, "e-mail not verified"),
        ({"email_verified": "false"}, "e-mail not verified"),
    ],
    ids=[
        "nbf-future",
        "nbf-junk",
        "ten-years",
        "lifetime",
        "unverified-missing",
        "unverified",
        "unverified-str",
    ],
)
def test_claims_are_checked_strictly(changes, reason):
    with pytest.raises(idtoken.Unauthenticated, match=reason):
        idtoken.verify(claims_token(**changes))


def test_good_claims_and_a_token_without_e_mail_names_its_subject_apart():
    import time

    assert idtoken.verify(claims_token(nbf=int(time.time()) - 5)).principal == "ann@example.com"
    who = idtoken.verify(claims_token(email=None, email_verified=None))
    assert who.principal == "sub:1234"  # never in the e-mail namespace
