"""The local stack's OIDC issuer: keys and ID tokens on 127.0.0.1, like Google's for the API.

    python -m stack.oidc DIR PORT

At start it makes a fresh RSA key (DIR/key.pem, 0600, and its key id in DIR/kid) and serves:
- `/.well-known/openid-configuration` (issuer, jwks_uri, token endpoint),
- `/certs`: the public keys as {kid: x509 certificate PEM}, the format of Google's
  https://www.googleapis.com/oauth2/v1/certs, which the API verifies tokens against,
- `/jwks`: the same key as a JWK Set,
- `POST /token` with {"email", "groups", "ttl_s"}: a signed ID token for anyone who asks. It
  is a local developer's issuer (`gitops login --local-user EMAIL`); it listens on 127.0.0.1
  only and its key dies with the stack.

For tests (no HTTP needed):

    from stack import oidc
    token = oidc.mint(stack, "dana@example.com", groups=("team-a",), ttl_s=600)
    oidc.mint(stack, "x@example.com", forged=True)     # signed with a key the issuer never published
    oidc.mint(stack, "x@example.com", ttl_s=-60)       # expired a minute ago
    oidc.mint(stack, "x@example.com", audience="other")

The stack exports GITOPS_OIDC_ISSUER, GITOPS_OIDC_CERTS_URL and GITOPS_API_AUDIENCE (the
API's URL, as Cloud Run's audience is the service URL).
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import sys
import time
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

ADMIN = "admin@gitops.local"  # the stack's bootstrap policy makes this user role:admin


def _b64int(value: int) -> str:
    import base64

    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _certificate(key: rsa.RSAPrivateKey) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gitops-local-oidc")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=7))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM)


def new_key() -> tuple[bytes, bytes]:
    """(private key PEM, self-signed certificate PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, _certificate(key)


def sign(
    key_pem: bytes,
    kid: str,
    *,
    issuer: str,
    audience: str,
    email: str,
    groups: Sequence[str] = (),
    ttl_s: int = 3600,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": email,
        "email": email,
        "email_verified": True,
        "groups": list(groups),
        "iat": min(now, now + ttl_s - 60),
        "exp": now + ttl_s,
    }
    signer = crypt.RSASigner.from_string(key_pem, kid)
    return jwt.encode(signer, payload).decode()


def mint(
    stack: Any,
    email: str,
    groups: Sequence[str] = (),
    ttl_s: int = 3600,
    *,
    audience: str | None = None,
    forged: bool = False,
) -> str:
    """An ID token of the stack's issuer for EMAIL (see the module's doc for the variants)."""
    folder = Path(stack.dir) / "oidc"
    kid = (folder / "kid").read_text().strip()
    key = new_key()[0] if forged else (folder / "key.pem").read_bytes()
    return sign(
        key,
        kid,
        issuer=stack.env["GITOPS_OIDC_ISSUER"],
        audience=audience or stack.env["GITOPS_API_AUDIENCE"],
        email=email,
        groups=groups,
        ttl_s=ttl_s,
    )


def serve(folder: Path, port: int, audience: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    key, cert = new_key()
    kid = secrets.token_hex(8)
    (folder / "key.pem").write_bytes(b"")
    (folder / "key.pem").chmod(0o600)
    (folder / "key.pem").write_bytes(key)
    (folder / "kid").write_text(kid)
    issuer = f"http://127.0.0.1:{port}"
    public = serialization.load_pem_private_key(key, None).public_key()
    numbers = public.public_numbers()  # type: ignore[union-attr]
    documents = {
        "/.well-known/openid-configuration": {
            "issuer": issuer,
            "jwks_uri": f"{issuer}/jwks",
            "token_endpoint": f"{issuer}/token",
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "response_types_supported": ["id_token"],
        },
        "/certs": {kid: cert.decode()},
        "/jwks": {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": kid,
                    "n": _b64int(numbers.n),
                    "e": _b64int(numbers.e),
                }
            ]
        },
    }

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "public, max-age=300")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            doc = documents.get(self.path.split("?", 1)[0])
            self._send(200, doc) if doc is not None else self._send(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path != "/token":
                self._send(404, {"error": "not found"})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                email = str(body["email"])
            except (ValueError, KeyError):
                self._send(400, {"error": 'expected {"email": ..., "groups": [...], "ttl_s": ...}'})
                return
            token = sign(
                key,
                kid,
                issuer=issuer,
                audience=str(body.get("audience") or audience),
                email=email,
                groups=[str(g) for g in body.get("groups") or []],
                ttl_s=int(body.get("ttl_s") or 3600),
            )
            self._send(
                200, {"id_token": token, "token_type": "Bearer", "expires_in": body.get("ttl_s") or 3600}
            )

        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"oidc {self.command} {self.path.split('?', 1)[0]}\n")

    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


if __name__ == "__main__":
    serve(Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
