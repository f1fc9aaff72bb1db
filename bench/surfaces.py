"""The surface rows: bare ASGI and Starlette, then Gainsight, EngageLab and Insider on the
main server, each from pools of ids preloaded over HTTP."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

from engagelab_requests import device_delete, device_get, device_set
from gainsight_requests import user_body, user_create, user_get, user_hard_delete, user_soft_delete
from harness import CONNECTIONS, Harness, say
from insider import (
    exact_body_check,
    insider_identity_delete,
    insider_profile,
    insider_upsert,
    profile_check,
    upsert_accepted,
    upsert_check,
)
from loadgen import build_request
from plan import Plan
from report import Row, before_name
from servers import HOST, Server
from sources import chunks, constant, creating, creating_many, cycling, once_each

# The bulk upsert row: users per request, and fewer connections than the other rows, since
# each request carries ~320 KB and keeps the single SQLite writer busy on its own.
BULK_USERS = 1000
BULK_CONNECTIONS = 2
# Insider preload: users in the pool the profile row reads; users per upsert when topping up
# a pool; rounds of resending upserts that failed (an upsert may be sent again safely).
INSIDER_PROFILE_USERS = 2000
INSIDER_PRELOAD_BULK = 100
INSIDER_PRELOAD_RETRIES = 3


@dataclass(frozen=True)
class UserRequests:
    """The Gainsight get, soft delete and hard delete requests to one server."""

    gets: list[bytes]
    soft: list[bytes]
    hard: list[bytes]


@dataclass(frozen=True)
class Requests:
    """Every request the measured rows send, built (and shuffled) before the first runs."""

    bare_get: bytes
    bare_post: bytes
    star_get: bytes
    star_post: bytes
    users: UserRequests
    # --before: the same requests (same ids, same order) to the old code's server.
    old_users: UserRequests
    nogc_soft: list[bytes]
    device_gets: list[bytes]
    device_deletes: list[bytes]
    profiles: list[bytes]
    identity_deletes: list[bytes]


class SurfaceBench(Harness):
    def __init__(
        self,
        plan: Plan,
        bare: Server,
        obliviate: Server,
        db_path: Path,
        *,
        starlette: Server,
        no_group_commit: Server,
        before: Server | None = None,
        before_db: Path | None = None,
    ) -> None:
        super().__init__(plan, obliviate, db_path)
        self.bare = bare
        self.starlette = starlette
        self.no_group_commit = no_group_commit
        # --before: the server running the old code, and its database.
        self.before = before
        self.before_db = before_db
        self.bare_host = f"{HOST}:{bare.port}"
        self.obl_host = f"{HOST}:{obliviate.port}"
        self.preloaded = 0
        self.preloaded_devices = 0
        self.preloaded_insider: dict[str, int] = {}

    async def run(self) -> list[Row]:
        requests = await self.prepare()
        plan, host = self.plan, self.obl_host
        if plan.warmup > 0:
            say(f"warming up ({plan.warmup:g} s per scenario) ...")
            warmups = [
                (self.bare, constant(requests.bare_get)),
                (self.bare, constant(requests.bare_post)),
                (self.starlette, constant(requests.star_get)),
                (self.obliviate, cycling(requests.users.gets)),
            ]
            if self.before is not None:
                warmups.append((self.before, cycling(requests.old_users.gets)))
            warmups += [
                (self.obliviate, cycling(requests.device_gets)),
                (self.obliviate, cycling(requests.profiles)),
            ]
            for server, source in warmups:
                await self.load(server, source, plan.warmup)

        say(f"measuring ({plan.duration:g} s per scenario, {CONNECTIONS} connections) ...")
        get, post = "bare ASGI GET", "bare ASGI POST"
        await self.measure(get, "GET /item", None, self.bare, constant(requests.bare_get))
        await self.measure(post, "POST /item", None, self.bare, constant(requests.bare_post))
        star_get, star_post = constant(requests.star_get), constant(requests.star_post)
        await self.measure("bare Starlette GET", "GET /item", get, self.starlette, star_get)
        await self.measure("bare Starlette POST", "POST /item", post, self.starlette, star_post)
        await self.gainsight_rows(requests)
        await self.measure(
            "engagelab device set",
            "POST /v4/devices/{rid}",
            post,
            self.obliviate,
            creating(lambda i: device_set(host, i), "bench-devnew"),
        )
        await self.measure(
            "engagelab device get",
            "GET /v4/devices/{rid}",
            get,
            self.obliviate,
            cycling(requests.device_gets),
        )
        await self.measure(
            "engagelab device delete",
            "DELETE /v4/devices/{rid}",
            post,
            self.obliviate,
            once_each(requests.device_deletes),
        )
        await self.settle()
        await self.insider_rows(requests.profiles, requests.identity_deletes)
        return self.rows

    async def prepare(self) -> Requests:
        """Preload the pools, then build every request from them."""
        rng = random.Random(self.plan.seed)
        host = self.obl_host
        # Insider first: its upserts slow down as the tenant's identifiers grow in number.
        iddel_ids, profile_ids = await self.fill_insider_pools()
        soft_ids, hard_ids = await self.fill_pools(
            "users", ["bench-soft", "bench-hard"], lambda i: user_create(host, i)
        )
        (device_ids,) = await self.fill_pools(
            "devices", ["bench-dev"], lambda i: device_set(host, i)
        )
        # The same soft delete on a server with group commit off (one commit per request),
        # measured in the same run.
        nogc_host = f"{HOST}:{self.no_group_commit.port}"
        (nogc_ids,) = await self.fill_pools(
            "users (group commit off)",
            ["bench-nogc"],
            lambda i: user_create(nogc_host, i),
            server=self.no_group_commit,
        )
        if self.before is not None:
            await self.preload_before(soft_ids + hard_ids)
        rng.shuffle(nogc_ids)
        nogc_soft = [user_soft_delete(nogc_host, i) for i in nogc_ids]
        star_host = f"{HOST}:{self.starlette.port}"
        self.preloaded, self.preloaded_devices = len(soft_ids), len(device_ids)
        get_ids = soft_ids + hard_ids
        rng.shuffle(get_ids)
        rng.shuffle(soft_ids)
        rng.shuffle(hard_ids)

        def user_requests(h: str) -> UserRequests:
            return UserRequests(
                [user_get(h, i) for i in get_ids],
                [user_soft_delete(h, i) for i in soft_ids],
                [user_hard_delete(h, i) for i in hard_ids],
            )

        users = user_requests(host)
        old_users = (
            UserRequests([], [], [])
            if self.before is None
            else user_requests(f"{HOST}:{self.before.port}")
        )
        device_gets = [device_get(host, i) for i in device_ids]
        rng.shuffle(device_gets)
        rng.shuffle(device_ids)
        device_deletes = [device_delete(host, i) for i in device_ids]
        profiles = [insider_profile(host, i) for i in profile_ids]
        rng.shuffle(profiles)
        rng.shuffle(iddel_ids)
        return Requests(
            bare_get=build_request("GET", "/item", self.bare_host),
            bare_post=build_request("POST", "/item", self.bare_host, body=user_body("bench-x")),
            star_get=build_request("GET", "/item", star_host),
            star_post=build_request("POST", "/item", star_host, body=user_body("bench-x")),
            users=users,
            old_users=old_users,
            nogc_soft=nogc_soft,
            device_gets=device_gets,
            device_deletes=device_deletes,
            profiles=profiles,
            identity_deletes=[insider_identity_delete(host, i) for i in iddel_ids],
        )

    async def gainsight_rows(self, requests: Requests) -> None:
        """Each --before row right after its current one; the hard deletes' purges settled
        after the rows of each server."""
        host, rev, post = self.obl_host, self.plan.before_rev, "bare ASGI POST"
        users, old = requests.users, requests.old_users
        get_user, soft_delete = "GET /v1/users/{id}", "DELETE /v1/users/{id}"
        hard_delete = "DELETE /v1/users/{id}?hardDelete=true"
        await self.measure(
            "gainsight create user",
            "POST /v1/users",
            post,
            self.obliviate,
            creating(lambda i: user_create(host, i), "bench-new"),
        )
        gets = cycling(users.gets)
        await self.measure("gainsight get user", get_user, "bare ASGI GET", self.obliviate, gets)
        if self.before is not None:
            await self.measure(
                before_name("gainsight get user", rev),
                get_user,
                "bare ASGI GET",
                self.before,
                cycling(old.gets),
                note=(
                    f"(before {rev}) rows: the same requests, each right after its "
                    f"current row, to a second `serve --demo` running {rev} (a git "
                    "worktree on PYTHONPATH) on its own fresh SQLite database, preloaded with "
                    "the same Gainsight users"
                ),
            )
        soft = once_each(users.soft)
        await self.measure("gainsight soft delete", soft_delete, post, self.obliviate, soft)
        if self.before is not None:
            await self.measure(
                before_name("gainsight soft delete", rev),
                soft_delete,
                post,
                self.before,
                once_each(old.soft),
            )
        await self.measure(
            "gainsight soft delete, group commit off",
            soft_delete,
            post,
            self.no_group_commit,
            once_each(requests.nogc_soft),
            note="a second server, OBLIVIATE_GROUP_COMMIT=false: one transaction and fsync each",
        )
        hard = once_each(users.hard)
        await self.measure("gainsight hard delete", hard_delete, post, self.obliviate, hard)
        await self.settle()
        if self.before is not None:
            # After the current server's purges have settled, so they do not weigh on it; its
            # own in-process worker runs its purges meanwhile, as the current one did.
            await self.measure(
                before_name("gainsight hard delete", rev),
                hard_delete,
                post,
                self.before,
                once_each(old.hard),
            )
            await self.settle(db_path=self.before_db)

    async def preload_before(self, ids: list[str]) -> None:
        """The old code's server gets the same Gainsight users as the main one (not the
        Insider users or devices, which its rows do not read)."""
        assert self.before is not None
        started = time.perf_counter()
        old_host = f"{HOST}:{self.before.port}"
        say(f"preloading users (before {self.plan.before_rev}), the same {len(ids)} ...")
        await self.preload([user_create(old_host, i) for i in ids], server=self.before)
        say(f"  {len(ids)} users in {time.perf_counter() - started:.1f} s")

    async def fill_insider_pools(self) -> tuple[list[str], list[str]]:
        """Users (uuid + email, attributes, one event) for the identity delete row, sized like
        the other delete pools, and INSIDER_PROFILE_USERS more for the profile row. The top-ups
        go INSIDER_PRELOAD_BULK users per upsert."""
        host = self.obl_host

        def bulk(uuids: list[str]) -> bytes:
            return insider_upsert(host, uuids)

        (iddel_ids,) = await self.fill_pools(
            "insider users",
            ["bench-ins-iddel"],
            lambda i: insider_upsert(host, [i]),
            bulk=bulk,
            bulk_size=INSIDER_PRELOAD_BULK,
            accept=upsert_accepted,
            retries=INSIDER_PRELOAD_RETRIES,
        )
        started = time.perf_counter()
        profile_ids = [f"bench-ins-prof-{i:08d}" for i in range(INSIDER_PROFILE_USERS)]
        say(f"preloading insider users for the profile row: {len(profile_ids)} ...")
        await self.preload(
            [bulk(c) for c in chunks(profile_ids, INSIDER_PRELOAD_BULK)],
            accept=upsert_accepted,
            retries=INSIDER_PRELOAD_RETRIES,
        )
        say(f"  {len(profile_ids)} insider users in {time.perf_counter() - started:.1f} s")
        self.preloaded_insider = {
            "identity_delete_pool": len(iddel_ids),
            "profile_pool": len(profile_ids),
        }
        return iddel_ids, profile_ids

    async def insider_rows(self, profiles: list[bytes], identity_deletes: list[bytes]) -> None:
        host, post = self.obl_host, "bare ASGI POST"
        upsert = "POST /api/user/v1/upsert"
        await self.measure(
            "insider upsert 1 user",
            upsert,
            post,
            self.obliviate,
            creating(lambda i: insider_upsert(host, [i]), "bench-ins-new"),
            checked=upsert_check(1),
        )
        check, hook = upsert_check(BULK_USERS)
        size = len(
            insider_upsert(host, [f"bench-ins-bulk-00000000-{j:04d}" for j in range(BULK_USERS)])
        )
        result = await self.load(
            self.obliviate,
            creating_many(lambda ids: insider_upsert(host, ids), "bench-ins-bulk", BULK_USERS),
            self.plan.duration,
            connections=BULK_CONNECTIONS,
            on_response=hook,
        )
        self.record(
            f"insider upsert {BULK_USERS} users",
            upsert,
            post,
            result,
            connections=BULK_CONNECTIONS,
            check=check,
            note=(
                f"{BULK_CONNECTIONS} connections (not {CONNECTIONS}), {BULK_USERS} users and "
                f"~{size / 1000:.0f} KB per request; {result.requests} requests in "
                f"{result.elapsed:.1f} s, so p50/p99 rest on few samples; requests in flight "
                "at the deadline finish and count"
            ),
        )
        await self.measure(
            "insider profile",
            "POST /api/user/v1/profile",
            post,
            self.obliviate,
            cycling(profiles),
            checked=profile_check(),
        )
        await self.measure(
            "insider identity delete",
            "DELETE /api/user/v1/identity",
            post,
            self.obliviate,
            once_each(identity_deletes),
            checked=exact_body_check(b"{}"),
        )
