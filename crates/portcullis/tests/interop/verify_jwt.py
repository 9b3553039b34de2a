"""Verify a Portcullis access token with PyJWT, an independent JOSE implementation.

usage: verify_jwt.py BASE_URL ISSUER ALG TOKEN [HS256_SECRET_BASE64]

Asymmetric algorithms fetch the live JWKS with PyJWKClient; HS256 uses the shared secret.
The token must verify (typ, iss, aud, exp), and the same token with one payload byte
changed must be refused. Prints one line per check; exits non-zero on any failure.
"""
import base64
import sys

import jwt

base, issuer, alg, token = sys.argv[1:5]
secret = base64.b64decode(sys.argv[5]) if len(sys.argv) > 5 else None


def key_for(candidate):
    if alg == "HS256":
        return secret
    return jwt.PyJWKClient(f"{base}/.well-known/jwks.json").get_signing_key_from_jwt(candidate).key


def verify(candidate):
    header = jwt.get_unverified_header(candidate)
    assert header["typ"] == "at+jwt", header
    return jwt.decode(candidate, key_for(candidate), algorithms=[alg], audience=issuer, issuer=issuer,
                      options={"require": ["exp", "iat", "nbf", "sub", "iss", "aud"]})


claims = verify(token)
print(f"{alg}: verified sub={claims['sub']} sid={claims['sid']}")

head, payload, signature = token.split(".")
raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
raw[-2] ^= 0x01
tampered = ".".join([head, base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode(), signature])
try:
    verify(tampered)
except jwt.InvalidTokenError as err:
    print(f"{alg}: tampered token refused ({type(err).__name__})")
else:
    sys.exit(f"{alg}: a tampered token verified")
