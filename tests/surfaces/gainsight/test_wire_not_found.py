"""Each kind of record Gainsight's surface cannot find is named in its envelope's message:
a user and an account in the vendor's words, the rest by what they are."""

from __future__ import annotations

import orjson
import pytest

from obliviate.domain.errors import (
    AccountNotFound,
    DeviceNotFound,
    JobNotFound,
    ModelNotFound,
    ProfileNotFound,
    ReceiptNotFound,
    SuppressionNotFound,
)
from obliviate.http.gainsight.errors import to_response

CASES = [
    (ProfileNotFound("uuid", "u-1"), "User was not found for parameters {id=u-1}"),
    (AccountNotFound("acme"), "Account was not found for parameters {id=acme}"),
    (ModelNotFound("engagement"), "Type not found: engagement"),
    (JobNotFound(), "no such deletion job"),
    (ReceiptNotFound(), "no such receipt"),
    (SuppressionNotFound(), "no such suppression"),
    (DeviceNotFound("rid-1"), "no such device"),
]


@pytest.mark.parametrize(("error", "message"), CASES)
def test_a_not_found_is_a_404_envelope_naming_what_was_not_found(
    error: Exception, message: str
) -> None:
    response = to_response(error)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert orjson.loads(response.body) == {
        "externalapierror": {
            "status": "NOT_FOUND",
            "message": message,
            "debugMessage": None,
            "subErrors": None,
        }
    }
