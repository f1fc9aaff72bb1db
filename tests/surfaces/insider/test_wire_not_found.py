"""Insider's surface answers an unknown user with the vendor's own body and any other record
it cannot find in the same ``<what>: no data`` shape, naming it."""

from __future__ import annotations

import pytest

from obliviate.domain.errors import (
    AccountNotFound,
    DeviceNotFound,
    JobNotFound,
    ProfileNotFound,
    ReceiptNotFound,
    SuppressionNotFound,
)
from obliviate.http.insider.errors import to_response
from tests.surfaces.insider.support import NO_SUCH_USER

CASES = [
    (ProfileNotFound("email", "a@example.com"), NO_SUCH_USER),
    (JobNotFound(), b'{"error":"no such deletion job: no data"}'),
    (ReceiptNotFound(), b'{"error":"no such receipt: no data"}'),
    (SuppressionNotFound(), b'{"error":"no such suppression: no data"}'),
    (DeviceNotFound("rid-1"), b'{"error":"no such device: no data"}'),
    (AccountNotFound("acme"), b'{"error":"no such account: no data"}'),
]


@pytest.mark.parametrize(("error", "body"), CASES)
def test_a_not_found_is_a_404_naming_what_was_not_found(error: Exception, body: bytes) -> None:
    response = to_response(error)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert bytes(response.body) == body
