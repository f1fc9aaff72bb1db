"""Rendering the console's pages: one Jinja2 environment over the packaged templates, and the
headers every console page carries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from obliviate.domain.tenants import Caller
from obliviate.http.console.session import CSRF_FIELD, Session

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

# Nothing is loaded from elsewhere, no script runs, and no other site may frame a page that
# deletes people (clickjacking); a page shows personal data, so no cache keeps it.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'none'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _when(epoch_ms: int | None) -> str:
    if epoch_ms is None:
        return "-"
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_ENV = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(default=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["when"] = _when
_ENV.globals["CSRF_FIELD"] = CSRF_FIELD


@dataclass(frozen=True, slots=True)
class Visit:
    """A signed-in admin's request: who they are, their session, and the form they sent."""

    request: Request
    caller: Caller
    session: Session
    form: dict[str, str] = field(default_factory=dict)


def render(
    template: str,
    *,
    status: int = 200,
    visit: Visit | None = None,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    signed_in = visit is not None
    page = _ENV.get_template(template).render(
        signed_in=signed_in,
        tenant=visit.caller.tenant.name if visit is not None else None,
        csrf=visit.session.csrf if visit is not None else context.pop("csrf", ""),
        **context,
    )
    return HTMLResponse(page, status_code=status, headers={**PAGE_HEADERS, **(headers or {})})


def error_page(
    status: int, title: str, message: str, *, headers: dict[str, str] | None = None
) -> HTMLResponse:
    return render("error.html", status=status, headers=headers, title=title, message=message)
