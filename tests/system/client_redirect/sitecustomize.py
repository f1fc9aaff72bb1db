"""Loaded by Python at start-up when this directory is on ``PYTHONPATH``.

Airbyte's ``source-gainsight-px`` hard-codes ``https://api.aptrinsic.com/v1``. With
``OBLIVIATE_BASE_URL`` set (e.g. ``http://127.0.0.1:8000``), every ``requests`` session sends to
that server instead: only the network destination changes, the client package stays as
published. ``OBLIVIATE_REWRITE_FROM`` names another origin to rewrite.
"""

from __future__ import annotations

import importlib
import os
from typing import Any


def _install(target: str, source: str) -> None:
    try:
        sessions = importlib.import_module("requests.sessions")
    except ImportError:
        return
    original = sessions.Session.send

    def send(self: Any, request: Any, **kwargs: Any) -> Any:
        url = str(request.url)
        if url.startswith(source):
            request.url = target.rstrip("/") + url[len(source) :]
        return original(self, request, **kwargs)

    sessions.Session.send = send


_TARGET = os.environ.get("OBLIVIATE_BASE_URL")
if _TARGET:
    _install(_TARGET, os.environ.get("OBLIVIATE_REWRITE_FROM", "https://api.aptrinsic.com"))
