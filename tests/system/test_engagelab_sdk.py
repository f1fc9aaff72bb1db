"""The official EngageLab SDK (PyPI ``engagelab-apppush``) against a real ``obliviate serve``.

A client written for the vendor works by changing only its base URL and credentials. The SDK is
used as published; only ``base_url`` points at Obliviate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from engagelab import (  # type: ignore[import-untyped]
    ApiError,
    Client,
    DeviceSetParam,
    DeviceSetTags,
    DeviceStatusGetParam,
    TagRegistrationIDs,
    TagSetParam,
)
from sqlalchemy import func, select

from obliviate.domain.devices import REGISTRATION_ID
from obliviate.security import DeploymentKeys
from obliviate.storage import tables as t
from tests.factories import uid
from tests.support.rows import count_rows
from tests.support.sealed import vault_in
from tests.support.servers import Server, wait_for

pytestmark = pytest.mark.system

APP_KEY = "demo-app-key"
MASTER_SECRET = "demo-master-secret"
NATIVE = {"Authorization": "Bearer demo-native-token", "Content-Type": "application/json"}


@pytest.fixture
def sdk(backend_server: Server) -> Any:
    return Client(APP_KEY, MASTER_SECRET, base_url=backend_server.base, timeout=10)


def label(prefix: str) -> str:
    """A unique tag or alias (letters, digits and _ only)."""
    return uid(prefix).replace("-", "_")


def set_platform(server: Server, rid: str, platform: str) -> None:
    status, _ = server.request("PUT", f"/api/v1/devices/{rid}", {"platform": platform}, NATIVE)
    assert status in (200, 201)


def assert_api_error(error: pytest.ExceptionInfo[Any], status: int, code: int) -> None:
    assert error.value.status_code == status
    assert error.value.error.code == code
    assert error.value.error.message


# --- devices -----------------------------------------------------------------------------


def test_sdk_sets_gets_and_deletes_a_device(sdk: Any) -> None:
    rid, news, sale, alias = uid("rid"), label("news"), label("sale"), label("alias")
    add = DeviceSetParam(tags=DeviceSetTags(add=[news, sale]), alias=alias)
    assert sdk.device.set(rid, add) is None
    got = sdk.device.get(rid)
    assert sorted(got.tags) == sorted([news, sale])
    assert got.alias == alias

    sdk.device.set(rid, DeviceSetParam(tags=DeviceSetTags(remove=[news])))
    assert sdk.device.get(rid).tags == [sale]

    sdk.device.set(rid, DeviceSetParam(tags=""))
    assert sdk.device.get(rid).tags == []
    assert sdk.device.get(rid).alias == alias

    sdk.device.set(rid, DeviceSetParam(alias=""))
    assert sdk.device.get(rid).alias == ""

    assert sdk.device.delete(rid) is None
    with pytest.raises(ApiError) as gone:
        sdk.device.get(rid)
    assert_api_error(gone, 404, 27002)
    with pytest.raises(ApiError) as again:
        sdk.device.delete(rid)
    assert_api_error(again, 404, 27002)


def test_sdk_reads_device_status(sdk: Any) -> None:
    rid = uid("rid")
    sdk.device.set(rid, DeviceSetParam())
    status = sdk.device.get_status(DeviceStatusGetParam(registration_ids=[rid, uid("nobody")]))
    assert [entry["regid"] for entry in status] == [rid]
    assert status[0]["online"] is False


def test_sdk_sees_a_deleted_device_vanish_from_tags_and_aliases_at_once(sdk: Any) -> None:
    rid, tag, alias = uid("rid"), label("tag"), label("alias")
    sdk.device.set(rid, DeviceSetParam(tags=DeviceSetTags(add=[tag]), alias=alias))
    sdk.device.delete(rid)
    assert tag not in sdk.tag.list().tags
    assert sdk.tag.get_count([tag], "android,ios,hmos,web").tags_count == {tag: 0}
    assert sdk.tag.get_device_status(tag, rid).result is False
    assert sdk.alias.get(alias).registration_ids == []
    with pytest.raises(ApiError) as gone:
        sdk.device.get(rid)
    assert_api_error(gone, 404, 27002)


def test_a_device_deleted_through_the_sdk_is_purged_with_one_receipt(
    sdk: Any, backend_env: dict[str, str]
) -> None:
    rid, tag = uid("rid"), label("tag")
    # This device's receipts only: on a database shared by the session, another test's device
    # purge may write its own receipt at any moment.
    subject = DeploymentKeys(current=backend_env["OBLIVIATE_SECRET_KEY"].encode()).hasher()
    receipts = (
        select(func.count())
        .select_from(t.receipts)
        .where(
            t.receipts.c.reason == "device_delete",
            t.receipts.c.subject_hash == subject(REGISTRATION_ID, rid),
        )
    )
    assert count_rows(backend_env, receipts) == 0
    sdk.device.set(rid, DeviceSetParam(tags=DeviceSetTags(add=[tag]), alias=label("alias")))
    sdk.device.delete(rid)
    vault = vault_in(backend_env)
    rid_hash = vault.lookup_hash("registration_id", rid)
    left = (
        select(func.count()).select_from(t.devices).where(t.devices.c.registration_hash == rid_hash)
    )
    wait_for(lambda: count_rows(backend_env, left) == 0, "the server's worker to purge the device")
    # Written once the erasure pass ran, which waits out any transaction that could still
    # see the device's key (the server log names each wait).
    wait_for(
        lambda: count_rows(backend_env, receipts) >= 1,
        "the device_delete receipt",
        timeout=90,
    )
    tag_rows = (
        select(func.count())
        .select_from(t.device_tags)
        .where(t.device_tags.c.tag_hash == vault.lookup_hash("tag", tag))
    )
    assert count_rows(backend_env, tag_rows) == 0
    assert count_rows(backend_env, receipts) == 1
    sdk.device.set(rid, DeviceSetParam())
    assert sdk.device.get(rid).tags == []


# --- tags --------------------------------------------------------------------------------


def test_sdk_sets_lists_counts_checks_and_deletes_tags(sdk: Any, backend_server: Server) -> None:
    phone, tablet, tag, other = uid("phone"), uid("tablet"), label("tag"), label("other")
    set_platform(backend_server, phone, "android")
    set_platform(backend_server, tablet, "ios")
    sdk.device.set(phone, DeviceSetParam(tags=DeviceSetTags(add=[tag, other])))

    assert sdk.tag.set(tag, TagSetParam(registration_ids=TagRegistrationIDs(add=[tablet]))) is None
    assert {tag, other} <= set(sdk.tag.list().tags)
    assert sdk.tag.get_count([tag, other], "android").tags_count == {tag: 1, other: 1}
    assert sdk.tag.get_count([tag, other], "ios").tags_count == {tag: 1, other: 0}
    assert sdk.tag.get_count([tag], "android,ios").tags_count == {tag: 2}
    assert sdk.tag.get_device_status(tag, tablet).result is True
    assert sdk.tag.get_device_status(other, tablet).result is False

    sdk.tag.set(tag, TagSetParam(registration_ids=TagRegistrationIDs(remove=[phone])))
    assert sdk.tag.get_device_status(tag, phone).result is False
    sdk.tag.set(tag, TagSetParam(registration_ids=TagRegistrationIDs(add=[phone])))

    assert sdk.tag.delete(tag, platforms=["ios"]) is None
    assert sdk.tag.get_count([tag], "android,ios").tags_count == {tag: 1}
    assert sdk.tag.get_device_status(tag, phone).result is True
    sdk.tag.delete(tag)
    assert sdk.tag.get_count([tag], "android,ios").tags_count == {tag: 0}
    assert tag not in sdk.tag.list().tags
    assert sdk.device.get(phone).tags == [other]


def test_sdk_tag_set_naming_an_unknown_device_raises_404(sdk: Any) -> None:
    param = TagSetParam(registration_ids=TagRegistrationIDs(add=[uid("nobody")]))
    with pytest.raises(ApiError) as unknown:
        sdk.tag.set(label("tag"), param)
    assert_api_error(unknown, 404, 27002)


def test_sdk_invalid_tag_raises_400_code_27002(sdk: Any) -> None:
    with pytest.raises(ApiError) as invalid:
        sdk.device.set(uid("rid"), DeviceSetParam(tags=DeviceSetTags(add=["x" * 41])))
    assert_api_error(invalid, 400, 27002)
    assert "tags" in invalid.value.error.message


# --- aliases -----------------------------------------------------------------------------


def test_sdk_gets_and_deletes_aliases(sdk: Any, backend_server: Server) -> None:
    phone, tablet, alias = uid("phone"), uid("tablet"), label("alias")
    set_platform(backend_server, phone, "android")
    sdk.device.set(phone, DeviceSetParam(alias=alias))
    assert sdk.alias.get(alias).registration_ids == [phone]
    assert sdk.alias.get(alias, platforms=["android", "ios"]).registration_ids == [phone]
    assert sdk.alias.get(alias, platforms=["ios"]).registration_ids == []

    # Binding the alias to another device moves it.
    sdk.device.set(tablet, DeviceSetParam(alias=alias))
    assert sdk.alias.get(alias).registration_ids == [tablet]
    assert sdk.device.get(phone).alias == ""

    assert sdk.alias.delete(alias, platforms=["hmos"]) is None
    assert sdk.alias.get(alias).registration_ids == [tablet]
    assert sdk.alias.delete(alias) is None
    assert sdk.alias.get(alias).registration_ids == []
    assert sdk.device.get(tablet).alias == ""


# --- credentials -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("app_key", "secret"),
    [(APP_KEY, "not-the-secret"), ("not-the-app-key", MASTER_SECRET), (APP_KEY, "")],
    ids=["bad-secret", "bad-app-key", "empty-secret"],
)
def test_sdk_with_bad_credentials_raises_401_code_27004(
    backend_server: Server, sdk: Any, app_key: str, secret: str
) -> None:
    rid = uid("rid")
    sdk.device.set(rid, DeviceSetParam(tags=DeviceSetTags(add=["kept"])))
    intruder = Client(app_key, secret, base_url=backend_server.base, timeout=10)
    calls: list[Callable[[], Any]] = [
        lambda: intruder.tag.list(),
        lambda: intruder.device.get(rid),
        lambda: intruder.device.set(rid, DeviceSetParam(tags="")),
        lambda: intruder.device.delete(rid),
        lambda: intruder.alias.delete("kept"),
    ]
    for call in calls:
        with pytest.raises(ApiError) as refused:
            call()
        assert_api_error(refused, 401, 27004)
    assert sdk.device.get(rid).tags == ["kept"]
