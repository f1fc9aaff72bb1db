"""The pages around the APIs: the landing page at ``/`` and the API docs at ``/docs``.

``/docs`` is Swagger UI from the ``swagger-ui-bundle`` package, its files served from the
installed package (no CDN: the docs work offline), over the four OpenAPI documents the app
serves already. The bundle's Swagger UI (4.15) renders OpenAPI 2.0 and 3.0 only and refuses a
3.1 document outright ("does not specify a valid version field"); the page's own script
(console/static/docs.js) hands it each document labelled 3.0 as it arrives. The documents
themselves are not changed: what they use renders the same under 3.0.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route
from swagger_ui_bundle import swagger_ui_path

from obliviate.http.console.render import STATIC, error_page, render
from obliviate.http.runtime import Runtime

# Which document each entry of the docs page's menu shows, native first.
DOCUMENTS = (
    ("Native API (/api/v1)", "/api/v1/openapi.json"),
    ("Gainsight PX (/v1)", "/gainsight/openapi.json"),
    ("EngageLab AppPush (/v4)", "/engagelab/openapi.json"),
    ("Insider UCD (/api/user/v1)", "/insider/openapi.json"),
)
# The bundle's files the page needs, by the name it asks for them under; nothing else of the
# package is served (its source maps, its sample page pointing at the petstore).
_BUNDLE = (
    "swagger-ui.css",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
    "favicon-32x32.png",
)
_OWN = ("docs.js",)
# Swagger UI sets styles from script and shows inline SVG images; nothing leaves the origin.
DOCS_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
_ASSET_HEADERS = {"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"}


def docs_files() -> dict[str, Path]:
    bundle = Path(str(swagger_ui_path))
    files = {name: bundle / name for name in _BUNDLE}
    files.update({name: STATIC / name for name in _OWN})
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        # Found at start-up rather than by the first reader of /docs.
        raise RuntimeError(f"the docs page's files are missing: {', '.join(missing)}")
    return files


def routes(rt: Runtime) -> list[Route]:
    del rt  # the pages hold nothing of any tenant
    files = docs_files()

    async def landing(_: Request) -> Response:
        return render("landing.html", documents=DOCUMENTS)

    async def docs(_: Request) -> Response:
        return render("docs.html", documents=DOCUMENTS, headers=DOCS_HEADERS)

    async def asset(request: Request) -> Response:
        path = files.get(request.path_params["name"])
        if path is None:
            return error_page(404, "Not found", "There is no such file.")
        return FileResponse(path, headers=_ASSET_HEADERS)

    return [
        Route("/", landing, methods=["GET"]),
        Route("/docs", docs, methods=["GET"]),
        Route("/docs/static/{name}", asset, methods=["GET"]),
    ]
