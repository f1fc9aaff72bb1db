"""The console's session cookie and CSRF tokens.

The cookie holds the admin's native token, encrypted and authenticated (Fernet) under a key
derived from the deployment key: every request re-authenticates that token exactly as the
native API does (``Runtime.authenticated``, with its cache), so revoking or rotating the token
ends the console session within the auth cache TTL, on every process, with nothing stored
server-side. The token is never in the cookie in clear, and a cookie from another deployment
(another key) or older than ``SESSION_TTL_S`` opens nothing.

The cookie is ``HttpOnly``, ``SameSite=Strict`` and always ``Secure``: the app cannot tell by
itself whether TLS is in front of it (uvicorn rewrites the scope's scheme from
X-Forwarded-Proto for the clients it trusts by default, so neither can be relied on), and
browsers keep Secure cookies on ``http://localhost`` too. Over plain HTTP elsewhere the browser
drops the cookie and the console says so (see ``COOKIE_REFUSED``).
"""

from __future__ import annotations

import base64
import hmac
import secrets
from dataclasses import dataclass, field

import orjson
from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.responses import Response

from obliviate.services.ports import SubjectHasher

COOKIE = "obliviate_console"
COOKIE_PATH = "/console"
# An absolute lifetime: a session is not extended by use, the admin signs in again.
SESSION_TTL_S = 8 * 3600
CSRF_FIELD = "csrf"
# No identifier type holds a space, so no keyed hash the store keeps or shows (suppressions,
# receipts, log subjects) is ever this one: the derived key is not written anywhere.
_KEY_LABEL = ("console session key", "v1")
COOKIE_REFUSED = (
    "Your browser did not send the console's session cookie back. The cookie is Secure: "
    "open the console over HTTPS (or on localhost), with cookies allowed."
)


class CsrfRefused(Exception):
    """A form arrived without the CSRF token of this browser's session."""


@dataclass(frozen=True, slots=True)
class Session:
    csrf: str
    # None before sign-in: the session then only carries the sign-in form's CSRF token.
    token: str | None = field(default=None, repr=False)


def new_session(token: str | None = None) -> Session:
    return Session(csrf=secrets.token_urlsafe(32), token=token)


class SessionCodec:
    def __init__(self, hasher: SubjectHasher) -> None:
        derived = bytes.fromhex(hasher(*_KEY_LABEL))
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def read(self, request: Request) -> Session | None:
        raw = request.cookies.get(COOKIE)
        if not raw:
            return None
        try:
            body = orjson.loads(self._fernet.decrypt(raw.encode(), ttl=SESSION_TTL_S))
        except (InvalidToken, orjson.JSONDecodeError, UnicodeEncodeError):
            return None
        if not isinstance(body, dict) or not isinstance(body.get("csrf"), str):
            return None
        token = body.get("token")
        return Session(csrf=body["csrf"], token=token if isinstance(token, str) else None)

    def write(self, response: Response, session: Session) -> None:
        sealed = self._fernet.encrypt(orjson.dumps({"csrf": session.csrf, "token": session.token}))
        response.set_cookie(
            COOKIE,
            sealed.decode(),
            max_age=SESSION_TTL_S,
            path=COOKIE_PATH,
            secure=True,
            httponly=True,
            samesite="strict",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            COOKIE, path=COOKIE_PATH, secure=True, httponly=True, samesite="strict"
        )


def check_csrf(session: Session | None, form: dict[str, str]) -> None:
    """Refuse a form that does not carry this session's CSRF token (compared in constant time)."""
    sent = form.get(CSRF_FIELD, "")
    if session is None or not sent or not hmac.compare_digest(sent, session.csrf):
        raise CsrfRefused()
