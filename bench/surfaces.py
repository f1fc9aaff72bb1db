"""The surface rows: bare ASGI and Starlette, then Gainsight, EngageLab and Insider on the
main server, each from pools of ids preloaded over HTTP; after some of them the same requests
sent by wrk (the "(wrk)" rows), and the soft deletes on the fsync +20 ms servers."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from pathlib import Path

import fsync_slow
from engagelab_requests import device_delete, device_get, device_set
from fsync_slow import FsyncRequests, FsyncServers
from gainsight_requests import user_body, user_create, user_get, user_hard_delete, user_soft_delete
from harness import CONNECTIONS, WRK_PRELOAD_FACTOR, say, wrk_note
from insider import insider_identity_delete, insider_profile
from insider_rows import InsiderRows
from loadgen import build_request
from plan import Plan
from report import Row, before_name
from servers import HOST, Server
from sources import constant, creating, cycling, once_each
from wrk_driver import WrkDriver


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
    lean_get: bytes
    lean_post: bytes
    users: UserRequests
    # --before: the same requests (same ids, same order) to the old code's server.
    old_users: UserRequests
    nogc_soft: list[bytes]
    # The (wrk) soft delete row's own pool, on the main server (empty without wrk).
    wrk_soft: list[bytes]
    # The fsync +20 ms servers' soft deletes (None: the shim could not be built).
    fsync: FsyncRequests | None
    device_gets: list[bytes]
    device_deletes: list[bytes]
    profiles: list[bytes]
    identity_deletes: list[bytes]


class SurfaceBench(InsiderRows):
    def __init__(
        self,
        plan: Plan,
        bare: Server,
        obliviate: Server,
        db_path: Path,
        *,
        starlette: Server,
        lean: Server,
        no_group_commit: Server,
        before: Server | None = None,
        before_db: Path | None = None,
        wrk: WrkDriver | None = None,
        fsync: FsyncServers | None = None,
    ) -> None:
        super().__init__(plan, obliviate, db_path, wrk)
        self.bare = bare
        self.starlette = starlette
        self.lean = lean
        self.no_group_commit = no_group_commit
        # The servers with fsync slowed by FSYNC_DELAY_MS (None: the shim could not be built).
        self.fsync = fsync
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
                (self.lean, constant(requests.lean_get)),
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
        bare_get = [requests.bare_get]
        await self.measure_wrk(get, "GET /item", None, self.bare, bare_get, note=wrk_note(plan))
        await self.measure(post, "POST /item", None, self.bare, constant(requests.bare_post))
        await self.measure_wrk(post, "POST /item", None, self.bare, [requests.bare_post])
        star_get, star_post = constant(requests.star_get), constant(requests.star_post)
        await self.measure("bare Starlette GET", "GET /item", get, self.starlette, star_get)
        await self.measure("bare Starlette POST", "POST /item", post, self.starlette, star_post)
        await self.measure_wrk(
            "bare Starlette GET", "GET /item", get, self.starlette, [requests.star_get]
        )
        # The dispatch Obliviate runs on (http/dispatch.py), with the same nothing-handler.
        lean_get, lean_post = constant(requests.lean_get), constant(requests.lean_post)
        await self.measure("bare LeanApp GET", "GET /item", get, self.lean, lean_get)
        await self.measure("bare LeanApp POST", "POST /item", post, self.lean, lean_post)
        await self.measure_wrk("bare LeanApp GET", "GET /item", get, self.lean, [requests.lean_get])
        await self.gainsight_rows(requests)
        await self.measure(
            "engagelab device set",
            "POST /v4/devices/{rid}",
            post,
            self.obliviate,
            creating(lambda i: device_set(host, i), "bench-devnew"),
        )
        device = "engagelab device get", "GET /v4/devices/{rid}"
        await self.measure(*device, get, self.obliviate, cycling(requests.device_gets))
        await self.measure_wrk(*device, get, self.obliviate, requests.device_gets)
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
        wrk_soft_ids: list[str] = []
        if self.wrk is not None:
            (wrk_soft_ids,) = await self.fill_pools(
                "users (wrk)",
                ["bench-wrk-soft"],
                lambda i: user_create(host, i),
                factor=WRK_PRELOAD_FACTOR,
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
        fsync = None if self.fsync is None else await fsync_slow.prepare(self, self.fsync, rng)
        if self.before is not None:
            await self.preload_before(soft_ids + hard_ids)
        rng.shuffle(nogc_ids)
        rng.shuffle(wrk_soft_ids)
        nogc_soft = [user_soft_delete(nogc_host, i) for i in nogc_ids]
        star_host = f"{HOST}:{self.starlette.port}"
        lean_host = f"{HOST}:{self.lean.port}"
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
            lean_get=build_request("GET", "/item", lean_host),
            lean_post=build_request("POST", "/item", lean_host, body=user_body("bench-x")),
            users=users,
            old_users=old_users,
            nogc_soft=nogc_soft,
            wrk_soft=[user_soft_delete(host, i) for i in wrk_soft_ids],
            fsync=fsync,
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
        await self.measure_wrk(
            "gainsight get user", get_user, "bare ASGI GET", self.obliviate, users.gets
        )
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
        if requests.wrk_soft:
            await self.measure_wrk(
                "gainsight soft delete",
                soft_delete,
                post,
                self.obliviate,
                requests.wrk_soft,
                once=True,
            )
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
        if self.fsync is not None and requests.fsync is not None:
            await fsync_slow.measure(self, self.fsync, requests.fsync)
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
