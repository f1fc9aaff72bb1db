"""Identity resolution at the service layer (SPEC §1 Identifiers, §2, §3.3; issue 4).

Upsert finds a person by any identifier, creates one when none matches, merges the profiles that
several identifiers point at into the oldest active one, and revives a soft-deleted profile
within its window. Identifier deletion keeps at least one identifier. Runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest

from obliviate.bootstrap import Container
from obliviate.domain.tenants import Caller
from obliviate.jobs.worker import Worker
from obliviate.services.tenants import Authenticator
from tests.conftest import FakeClock, worker_on_clock
from tests.integration.identity.support import WINDOW, Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def caller(container: Container, tenant: dict[str, Any]) -> Caller:
    auth = Authenticator(container.tenant_store, default_revival_window=WINDOW)
    creds = tenant["insider"]
    return auth.insider(creds["partner_name"], creds["request_token"])


@pytest.fixture
def clocked_worker(container: Container, clock: FakeClock) -> Worker:
    return worker_on_clock(container, clock)


@pytest.fixture
def store(container: Container, caller: Caller, clock: FakeClock) -> Store:
    return Store(container, caller, clock)


# --- create and add-to ------------------------------------------------------------------------
