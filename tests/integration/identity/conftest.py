"""Fixtures of the identity tests: an Insider caller and the store that drives the identity
services for it, on the clock the test moves."""

from __future__ import annotations

import pytest

from obliviate.bootstrap import Container
from obliviate.domain.tenants import Caller
from tests.integration.identity.support import WINDOW, Store
from tests.support.clock import FakeClock
from tests.support.tenants import Tenant, sign_in


@pytest.fixture
def caller(container: Container, tenant: Tenant) -> Caller:
    return sign_in(container, tenant, "insider", revival_window=WINDOW)


@pytest.fixture
def store(container: Container, caller: Caller, clock: FakeClock) -> Store:
    return Store(container, caller, clock)
