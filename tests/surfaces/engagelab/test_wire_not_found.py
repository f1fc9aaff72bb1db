"""EngageLab's surface names each record it cannot find: a device as the vendor does (404),
anything else it has no route for in its one code for a refused request."""

from __future__ import annotations

import orjson
import pytest

from obliviate.domain.errors import (
    DeviceNotFound,
    JobNotFound,
    ProfileNotFound,
    ReceiptNotFound,
    SuppressionNotFound,
)
from obliviate.http.engagelab.errors import to_response
from tests.surfaces.engagelab.support import INVALID

CASES = [
    (DeviceNotFound("rid-1"), 404, "registration_id does not exist"),
    (ProfileNotFound("uuid", "u-1"), 400, "no profile with uuid"),
    (JobNotFound(), 400, "no such deletion job"),
    (ReceiptNotFound(), 400, "no such receipt"),
    (SuppressionNotFound(), 400, "no such suppression"),
]


@pytest.mark.parametrize(("error", "status", "message"), CASES)
def test_a_not_found_names_what_was_not_found_in_the_envelope(
    error: Exception, status: int, message: str
) -> None:
    response = to_response(error)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert orjson.loads(response.body) == {"error": {"code": INVALID, "message": message}}
