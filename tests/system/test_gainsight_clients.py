"""Two published Gainsight PX clients, unmodified, against a real ``obliviate serve``.

A client written for the vendor works by changing only where it connects and its
credentials. Both clients are pip-installed from PyPI into cached venvs
(``tests/system/gainsight_clients.py``):

- Airbyte ``airbyte-source-gainsight-px`` 0.1.14 (Python 3.10): ``spec``, ``check``,
  ``discover``, then ``read`` of every discovered stream. Its base URL is hard-coded, so only
  the destination of its requests is redirected (``client_redirect/sitecustomize.py``).
- Singer ``tap-gainsightpx`` 1.0.8: ``--discover``, then a full sync of every stream, with
  ``api_url`` pointing at Obliviate and a page size of 2 so that lists come over several pages.

A fresh tenant holds accounts, users and custom events planted through the API; then one user
is hard deleted, one soft deleted, and one account deleted (which soft deletes its users). The
clients must see exactly the live data, and nothing of the deleted people anywhere in their
output: not as records, not as events, not as attribute names in the model metadata.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.servers import Server, create_tenant
from tests.system import gainsight_clients as gc

pytestmark = pytest.mark.system

PROPERTY_KEY = "AP-X-1"
WINDOW_START = "2026-11-01T00:00:00Z"
WINDOW_END = "2026-11-30T23:59:59Z"
PAGE_SIZE = 2
AIRBYTE_STREAMS = {
    "accounts",
    "admin_attributes",
    "articles",
    "feature",
    "kcbot",
    "segments",
    "user_attributes",
    "users",
}
SINGER_STREAMS = {
    "accounts",
    "custom_events",
    "email_events",
    "engagement_view_events",
    "engagements",
    "feature_match_events",
    "features",
    "form_submit_events",
    "identify_events",
    "lead_events",
    "page_view_events",
    "segment_match_events",
    "segments",
    "session_events",
    "survey_responses",
    "users",
}


def epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso).replace(tzinfo=UTC).timestamp() * 1000)


def marker() -> str:
    return f"mk{secrets.token_hex(8)}"


# --- the planted tenant ------------------------------------------------------------------


@dataclass
class Planted:
    api_key: str
    live_accounts: set[str] = field(default_factory=set)
    live_users: set[str] = field(default_factory=set)
    # Events the Singer window must return: eventId -> identifyId.
    window_events: dict[str, str] = field(default_factory=dict)
    # Custom attribute names held only by live people / accounts, and only by deleted ones.
    live_user_attributes: set[str] = field(default_factory=set)
    live_account_attributes: set[str] = field(default_factory=set)
    gone_user_attributes: set[str] = field(default_factory=set)
    gone_account_attributes: set[str] = field(default_factory=set)
    # Values of deleted people and accounts (ids, e-mails, event ids): in no client's output.
    gone_values: set[str] = field(default_factory=set)
    # Events that exist for live people but fall outside the window.
    outside_events: set[str] = field(default_factory=set)


class Gainsight:
    def __init__(self, server: Server, api_key: str) -> None:
        self.server = server
        self.headers = {"X-APTRINSIC-API-KEY": api_key, "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any, expect: int) -> Any:
        status, answer = self.server.request(method, path, body, self.headers)
        assert status == expect, (method, path, body, status, answer)
        return answer

    def account(self, account_id: str, attribute: str) -> None:
        body = {
            "id": account_id,
            "name": f"Account {marker()}",
            "propertyKeys": [PROPERTY_KEY],
            "customAttributes": {attribute: marker()},
        }
        self.call("POST", "/v1/accounts", body, 201)

    def user(self, identify_id: str, email: str, account_id: str, attribute: str) -> None:
        body = {
            "identifyId": identify_id,
            "propertyKeys": [PROPERTY_KEY],
            "email": email,
            "accountId": account_id,
            "customAttributes": {attribute: marker()},
        }
        self.call("POST", "/v1/users", body, 201)

    def attribute_names(self, model: str) -> set[str]:
        answer = self.call("GET", f"/v1/admin/model/{model}/attributes", None, 200)
        return {str(attribute["apiName"]) for attribute in answer}

    def event(self, identify_id: str, iso: str) -> str:
        body = {
            "eventName": "clicked",
            "identifyId": identify_id,
            "propertyKey": PROPERTY_KEY,
            "userType": "USER",
            "date": epoch_ms(iso),
            "attributes": {"note": marker()},
        }
        return str(self.call("POST", "/v1/events/custom", body, 201)["eventId"])


def plant(server: Server, api_key: str) -> Planted:
    gs = Gainsight(server, api_key)
    planted = Planted(api_key=api_key)
    live_accounts = [f"acct-{marker()}" for _ in range(2)]
    gone_account = f"acct-{marker()}"
    for number, account_id in enumerate(live_accounts):
        gs.account(account_id, f"accountTier{number}")
        planted.live_accounts.add(account_id)
        planted.live_account_attributes.add(f"accountTier{number}")
    gs.account(gone_account, "goneAccountOnly")
    planted.gone_account_attributes.add("goneAccountOnly")
    planted.gone_values.add(gone_account)

    # Five live users: the Singer sync pages them 2 + 2 + 1; Airbyte reads one page of 25.
    for number in range(5):
        identify_id, email = f"user-{marker()}", f"{marker()}@example.com"
        attribute = f"liveAttr{number}"
        gs.user(identify_id, email, live_accounts[number % 2], attribute)
        planted.live_users.add(identify_id)
        planted.live_user_attributes.add(attribute)
        planted.window_events[gs.event(identify_id, "2026-11-10T12:00:00Z")] = identify_id
        if number == 0:
            # Its second event falls in the window's last second; its third just after it.
            planted.window_events[gs.event(identify_id, "2026-11-30T23:59:59Z")] = identify_id
            planted.outside_events.add(gs.event(identify_id, "2026-12-01T00:00:00Z"))
        if number == 1:
            planted.outside_events.add(gs.event(identify_id, "2026-10-31T23:59:59Z"))

    # Three users to delete, each holding a custom attribute no live user has.
    doomed = {
        "hard": ("hardDeletedOnly", live_accounts[0]),
        "soft": ("softDeletedOnly", live_accounts[1]),
        "cascade": ("cascadeDeletedOnly", gone_account),
    }
    gone_ids: dict[str, str] = {}
    for how, (attribute, account_id) in doomed.items():
        identify_id, email = f"user-{marker()}", f"{marker()}@example.com"
        gs.user(identify_id, email, account_id, attribute)
        event_id = gs.event(identify_id, "2026-11-15T08:00:00Z")
        gone_ids[how] = identify_id
        planted.gone_user_attributes.add(attribute)
        planted.gone_values |= {identify_id, email, event_id}
    # Before the deletes the model metadata does list the doomed names, so their absence from
    # the clients' output afterwards is the deletes' doing.
    assert planted.gone_user_attributes <= gs.attribute_names("user")
    assert planted.gone_account_attributes <= gs.attribute_names("account")
    gs.call("DELETE", f"/v1/users/{gone_ids['hard']}?hardDelete=true", None, 200)
    gs.call("DELETE", f"/v1/users/{gone_ids['soft']}", None, 200)
    gs.call("DELETE", f"/v1/accounts/{gone_account}", None, 200)
    # The server agrees before any client runs: the cascade reached the account's user.
    status, _ = server.request("GET", f"/v1/users/{gone_ids['cascade']}", headers=gs.headers)
    assert status == 404
    return planted


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted(backend_server: Server, backend_env: dict[str, str]) -> Planted:
    credentials = create_tenant(backend_env, f"gsclients-{secrets.token_hex(4)}")
    return plant(backend_server, str(credentials["gainsight"]["api_key"]))


@pytest.fixture(scope="session")
def airbyte_venv() -> Path:
    python = gc.find_python310()
    if python is None:
        reason = (
            "airbyte-source-gainsight-px needs Python 3.10 (airbyte-cdk 0.90 crashes on 3.11); "
            "none found on PATH or under ~/.pyenv/versions/3.10*"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return gc.ensure_venv(gc.AIRBYTE, python)


@pytest.fixture(scope="session")
def singer_venv() -> Path:
    return gc.ensure_venv(gc.SINGER, gc.this_python())


@dataclass(frozen=True)
class AirbyteRuns:
    spec: gc.Run
    check: gc.Run
    discover: gc.Run
    read: gc.Run


@pytest.fixture(scope="module")
def airbyte(
    airbyte_venv: Path,
    backend_server: Server,
    planted: Planted,
    tmp_path_factory: pytest.TempPathFactory,
) -> AirbyteRuns:
    work = tmp_path_factory.mktemp("airbyte")
    config = work / "config.json"
    config.write_text(json.dumps({"api_key": planted.api_key}))
    env = gc.airbyte_env(backend_server.base)

    def run(*args: str) -> gc.Run:
        return gc.run_client(airbyte_venv, gc.AIRBYTE, list(args), env, work, args[0]).ok()

    spec = run("spec")
    check = run("check", "--config", str(config))
    discover = run("discover", "--config", str(config))
    (catalog,) = discover.of_type("CATALOG")
    configured = {
        "streams": [
            {"stream": stream, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
            for stream in catalog["catalog"]["streams"]
        ]
    }
    (work / "catalog.json").write_text(json.dumps(configured))
    read = run("read", "--config", str(config), "--catalog", str(work / "catalog.json"))
    return AirbyteRuns(spec, check, discover, read)


@pytest.fixture(scope="module")
def singer(
    singer_venv: Path,
    backend_server: Server,
    planted: Planted,
    tmp_path_factory: pytest.TempPathFactory,
) -> gc.Run:
    work = tmp_path_factory.mktemp("singer")
    config = work / "config.json"
    settings = {
        "api_url": f"{backend_server.base}/v1",
        "api_key": planted.api_key,
        "page_size": PAGE_SIZE,
        "start_date": WINDOW_START,
        "end_date": WINDOW_END,
    }
    config.write_text(json.dumps(settings))
    env = gc.client_env()
    discovered = gc.run_client(
        singer_venv, gc.SINGER, ["--config", str(config), "--discover"], env, work, "discover"
    ).ok()
    catalog = json.loads(discovered.stdout)
    assert {s["tap_stream_id"] for s in catalog["streams"]} == SINGER_STREAMS
    (work / "catalog.json").write_text(discovered.stdout)
    args = ["--config", str(config), "--catalog", str(work / "catalog.json")]
    return gc.run_client(singer_venv, gc.SINGER, args, env, work, "sync").ok()


def assert_nothing_of_the_deleted(output: str, planted: Planted) -> None:
    leaked = sorted(value for value in planted.gone_values if value in output)
    assert leaked == [], f"deleted people's values in a client's output: {leaked}"


# --- Airbyte -----------------------------------------------------------------------------


def test_airbyte_spec_check_and_discover(airbyte: AirbyteRuns) -> None:
    (spec,) = airbyte.spec.of_type("SPEC")
    assert spec["spec"]["connectionSpecification"]["required"] == ["api_key"]
    statuses = [m["connectionStatus"] for m in airbyte.check.of_type("CONNECTION_STATUS")]
    assert statuses == [{"status": "SUCCEEDED"}], airbyte.check.stdout
    (catalog,) = airbyte.discover.of_type("CATALOG")
    assert {s["name"] for s in catalog["catalog"]["streams"]} == AIRBYTE_STREAMS


# The server holds the planted data, as in every other client run: only the key is wrong.
@pytest.mark.usefixtures("planted")
def test_airbyte_check_with_a_wrong_key_fails_on_401(
    airbyte_venv: Path, backend_server: Server, tmp_path: Path
) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_key": "gs_not-a-key"}))
    env = gc.airbyte_env(backend_server.base)
    check = gc.run_client(
        airbyte_venv, gc.AIRBYTE, ["check", "--config", str(config)], env, tmp_path, "check"
    )
    (status,) = [m["connectionStatus"] for m in check.of_type("CONNECTION_STATUS")]
    assert status["status"] == "FAILED"
    assert "401" in status["message"], status


def test_airbyte_reads_every_stream_and_only_live_data(
    airbyte: AirbyteRuns, planted: Planted
) -> None:
    read = airbyte.read
    errors = [m for m in read.of_type("TRACE") if m["trace"].get("type") == "ERROR"]
    assert errors == []
    rows = gc.airbyte_records(read)
    assert {row["identifyId"] for row in rows["users"]} == planted.live_users
    assert len(rows["users"]) == len(planted.live_users)
    assert all(row["id"] == row["identifyId"] for row in rows["users"])
    assert {row["id"] for row in rows["accounts"]} == planted.live_accounts
    assert len(rows["accounts"]) == len(planted.live_accounts)
    for stream in ("articles", "feature", "kcbot", "segments"):
        assert rows.get(stream, []) == [], stream

    user_attributes = {row["apiName"] for row in rows["user_attributes"]}
    assert {"identifyId", "email", "accountId"} <= user_attributes
    assert planted.live_user_attributes <= user_attributes
    assert user_attributes.isdisjoint(planted.gone_user_attributes)
    account_attributes = {row["apiName"] for row in rows["admin_attributes"]}
    assert {"id", "name"} <= account_attributes
    assert planted.live_account_attributes <= account_attributes
    assert account_attributes.isdisjoint(planted.gone_account_attributes)

    for name in planted.gone_user_attributes | planted.gone_account_attributes:
        assert name not in read.stdout, name
    assert_nothing_of_the_deleted(read.stdout, planted)


# --- Singer ------------------------------------------------------------------------------


def requests_made(run: gc.Run, stream: str) -> int:
    """The tap's own count of HTTP requests for a stream (singer-sdk METRIC log lines)."""
    total = 0
    for found in re.finditer(r"METRIC: (\{.*\})", run.stderr):
        metric = json.loads(found.group(1))
        if metric.get("metric") == "http_request_count" and metric["tags"].get("stream") == stream:
            total += int(metric["value"])
    return total


def pages(records: int) -> int:
    return -(-records // PAGE_SIZE)


def test_singer_syncs_every_stream_and_only_live_data(singer: gc.Run, planted: Planted) -> None:
    rows = gc.singer_records(singer)
    assert {m["stream"] for m in singer.of_type("SCHEMA")} == SINGER_STREAMS

    users = rows["users"]
    assert sorted(row["identifyId"] for row in users) == sorted(planted.live_users)
    assert len({row["aptrinsicId"] for row in users}) == len(planted.live_users)
    # Five users in pages of two: the scrollId was followed to the end, and no further.
    assert requests_made(singer, "users") == pages(len(planted.live_users)), singer.stderr[-3000:]

    assert sorted(row["id"] for row in rows["accounts"]) == sorted(planted.live_accounts)

    events = rows["custom_events"]
    assert {row["eventId"]: row["identifyId"] for row in events} == planted.window_events
    assert len(events) == len(planted.window_events)
    assert all(epoch_ms(WINDOW_START) <= row["date"] <= epoch_ms(WINDOW_END) for row in events)
    # Six events in pages of two: the third page brings totalHits, so the tap stops there.
    assert requests_made(singer, "custom_events") == pages(len(events)), singer.stderr[-3000:]

    others = SINGER_STREAMS - {"users", "accounts", "custom_events"}
    assert {stream: len(rows.get(stream, [])) for stream in others} == dict.fromkeys(others, 0)

    for event_id in planted.outside_events:
        assert event_id not in singer.stdout
    assert_nothing_of_the_deleted(singer.stdout, planted)
