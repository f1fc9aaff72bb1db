"""``/`` links the docs, the console, health and metrics; ``/docs`` is Swagger UI over the four
OpenAPI documents, every asset it loads served by the app itself from installed packages."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from obliviate.http.pages import DOCUMENTS


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _local_references(page: str) -> list[str]:
    refs = [r for r in re.findall(r'(?:src|href)="([^"]+)"', page) if not r.startswith("#")]
    assert refs
    outside = [r for r in refs if not r.startswith("/")]
    assert outside == [], "loads something from elsewhere"
    return refs


def test_the_landing_page_links_docs_console_health_and_metrics(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    refs = _local_references(page.text)
    for wanted in ("/docs", "/console", "/healthz", "/readyz", "/metrics"):
        assert wanted in refs
    for ref in refs:
        assert client.get(ref, follow_redirects=False).status_code in (200, 303), ref


def test_docs_is_swagger_ui_over_all_four_documents_with_every_asset_served_here(
    client: TestClient,
) -> None:
    page = client.get("/docs")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    refs = _local_references(page.text)
    assets = [r for r in refs if r.startswith("/docs/static/")]
    assert {"/docs/static/swagger-ui-bundle.js", "/docs/static/swagger-ui.css"} <= set(assets)
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset
        assert answer.content, asset
    assert "SwaggerUIBundle" in client.get("/docs/static/swagger-ui-bundle.js").text
    for _, url in DOCUMENTS:
        assert url in page.text
        document = client.get(url)
        assert document.status_code == 200, url
        assert document.json()["openapi"].startswith("3.")
    assert [url for _, url in DOCUMENTS] == [
        "/api/v1/openapi.json",
        "/gainsight/openapi.json",
        "/engagelab/openapi.json",
        "/insider/openapi.json",
    ]


def test_only_the_named_files_of_the_bundle_are_served(client: TestClient) -> None:
    for name in ("index.html", "swagger-ui-bundle.js.map", "nope.js"):
        answer = client.get(f"/docs/static/{name}")
        assert answer.status_code == 404, name
        assert answer.headers["content-type"].startswith("text/html")
    outside = client.get("/docs/static/..%2F..%2F..%2F..%2Fpyproject.toml")
    assert outside.status_code == 404
    assert "[project]" not in outside.text
