"""The console is used over HTTPS (its cookie is Secure), so its tests' client speaks https."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from obliviate.bootstrap import Container, create_app


@pytest.fixture
def browser(container: Container) -> Iterator[TestClient]:
    """A client that keeps cookies as a browser does, over https://testserver."""
    app = create_app(container)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client


@pytest.fixture
def second_browser(container: Container) -> Iterator[TestClient]:
    """Another browser: a session of its own."""
    app = create_app(container)
    with TestClient(app, base_url="https://testserver", follow_redirects=False) as client:
        yield client
