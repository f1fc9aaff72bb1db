"""The console's routes: sign-in and out, the signed-in pages, its static files, and an HTML
404 (or 405) for every other path under ``/console``.

Every signed-in page goes through ``signed_in``: the session's token is authenticated as the
native API authenticates it and must carry the ``admin`` scope; the request is counted against
the tenant's native rate limit; a form is read (capped) and must carry the session's CSRF token
before anything runs. Every error is answered by the console's error table, as a page.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from functools import partial

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from obliviate.domain.errors import AuthenticationError
from obliviate.domain.tenants import Caller
from obliviate.http.console import errors
from obliviate.http.console.forms import read_form
from obliviate.http.console.people import PeoplePages
from obliviate.http.console.records import RecordPages
from obliviate.http.console.render import STATIC, Visit, error_page, render
from obliviate.http.console.session import (
    COOKIE_REFUSED,
    CsrfRefused,
    SessionCodec,
    check_csrf,
    new_session,
)
from obliviate.http.runtime import Runtime, mark_surface
from obliviate.http.text import refuse_nul_in_url

SURFACE = "console"
# The console acts with a native token, so it spends the tenant's native allowance.
RATE_SURFACE = "native"
SIGN_IN = "/console/sign-in"
# Where sign-in sends the browser: arriving there without the cookie means it was dropped.
AFTER_SIGN_IN = "/console?signed-in=1"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]

Page = Callable[[Visit], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class Console:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.codec = SessionCodec(rt.hasher)

    async def _caller(self, request: Request, token: str) -> Caller:
        caller = await self.rt.authenticated(
            request, f"native:{token}", partial(self.rt.authenticator.native, token)
        )
        caller.require("admin")
        return caller

    def signed_in(self, page: Page) -> Endpoint:
        async def run(request: Request) -> Response:
            mark_surface(request, SURFACE)
            try:
                session = self.codec.read(request)
                if session is None or session.token is None:
                    if request.method != "GET":
                        raise AuthenticationError("not signed in")
                    if request.url.path == "/console" and "signed-in" in request.query_params:
                        return error_page(403, "The session cookie was refused", COOKIE_REFUSED)
                    return RedirectResponse(SIGN_IN, status_code=303)
                caller = await self._caller(request, session.token)
                await self.rt.check_rate(RATE_SURFACE, caller)
                refuse_nul_in_url(request)
                form: dict[str, str] = {}
                if request.method == "POST":
                    form = await read_form(request)
                    check_csrf(session, form)
                return await page(Visit(request, caller, session, form))
            except AuthenticationError as exc:
                # The token was revoked or rotated: the session is over.
                answer = errors.to_response(exc)
                self.codec.clear(answer)
                return answer
            except Exception as exc:
                return errors.to_response(exc)

        return run

    async def sign_in_form(self, request: Request) -> Response:
        mark_surface(request, SURFACE)
        # A session of this browser keeps its form token, so two open tabs both still work.
        session = self.codec.read(request) or new_session()
        answer = render("sign_in.html", csrf=session.csrf, refused=None)
        self.codec.write(answer, session)
        return answer

    async def sign_in(self, request: Request) -> Response:
        mark_surface(request, SURFACE)
        session = self.codec.read(request)
        try:
            form = await read_form(request)
            if session is None:
                return error_page(403, "The session cookie was refused", COOKIE_REFUSED)
            check_csrf(session, form)
            token = form.get("token", "").strip()
            if not token:
                raise AuthenticationError("no token")
            await self._caller(request, token)
        except CsrfRefused as exc:
            return errors.to_response(exc)
        except Exception as exc:
            refused = errors.to_response(exc)
            if session is None or refused.status_code not in (400, 401, 403):
                return refused
            reason = (
                "That token lacks the admin scope: the console needs an admin token."
                if refused.status_code == 403
                else "That token is not valid (or was revoked)."
            )
            return render(
                "sign_in.html", status=refused.status_code, csrf=session.csrf, refused=reason
            )
        # A new session (and CSRF token) at sign-in: one planted before it is worth nothing.
        answer = RedirectResponse(AFTER_SIGN_IN, status_code=303)
        self.codec.write(answer, new_session(token))
        return answer

    async def sign_out(self, _: Visit) -> Response:
        answer = RedirectResponse(SIGN_IN, status_code=303)
        self.codec.clear(answer)
        return answer


def _static_files() -> dict[str, tuple[bytes, str]]:
    """The packaged static files, read once: served by name, so no path reaches the disk."""
    found = {}
    for path in sorted(STATIC.iterdir()):
        if path.is_file():
            kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            found[path.name] = (path.read_bytes(), kind)
    return found


def routes(rt: Runtime) -> list[Route]:
    console = Console(rt)
    people = PeoplePages(rt)
    records = RecordPages(rt)
    files = _static_files()
    page = console.signed_in

    async def static(request: Request) -> Response:
        found = files.get(request.path_params["name"])
        if found is None:
            return error_page(404, "Not found", "There is no such file.")
        body, kind = found
        return Response(
            body,
            media_type=kind,
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )

    served = [
        Route("/console", page(people.home), methods=["GET"]),
        Route(SIGN_IN, console.sign_in_form, methods=["GET"]),
        Route(SIGN_IN, console.sign_in, methods=["POST"]),
        Route("/console/sign-out", page(console.sign_out), methods=["POST"]),
        Route("/console/static/{name}", static, methods=["GET"]),
        Route("/console/people", page(people.find), methods=["GET"]),
        Route("/console/people/export", page(people.export), methods=["POST"]),
        Route("/console/deletions/preview", page(people.preview), methods=["POST"]),
        Route("/console/deletions", page(people.delete), methods=["POST"]),
        Route("/console/jobs", page(records.find_job), methods=["GET"]),
        Route("/console/jobs/{job_id}", page(records.job), methods=["GET"]),
        Route("/console/jobs/{job_id}/cancel", page(records.cancel_job), methods=["POST"]),
        Route("/console/receipts", page(records.receipts), methods=["GET"]),
        Route("/console/receipts/verify", page(records.verify), methods=["POST"]),
        Route("/console/receipts/{receipt_id}", page(records.receipt), methods=["GET"]),
        Route("/console/suppressions", page(records.suppressions), methods=["GET"]),
        Route("/console/suppressions", page(records.add_suppression), methods=["POST"]),
        Route("/console/suppressions/lift", page(records.lift_suppression), methods=["POST"]),
    ]

    async def unrouted(request: Request) -> Response:
        mark_surface(request, SURFACE)
        path = request.url.path
        allowed = sorted({m for r in served if r.path_regex.match(path) for m in r.methods or ()})
        if allowed:
            return error_page(
                405,
                "Method not allowed",
                f"{request.method} is not how this page is used.",
                headers={"Allow": ", ".join(allowed)},
            )
        return error_page(404, "Not found", "There is no console page at this address.")

    # Last: a path under /console that no route above serves gets the console's own page.
    return [
        *served,
        Route("/console", unrouted, methods=ALL_METHODS),
        Route("/console/{rest:path}", unrouted, methods=ALL_METHODS),
    ]
