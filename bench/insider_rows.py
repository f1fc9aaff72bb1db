"""The Insider rows of the surface section, and the preload of the users they read and
delete."""

from __future__ import annotations

import time

from harness import CONNECTIONS, Harness, say
from insider import (
    exact_body_check,
    insider_upsert,
    profile_check,
    upsert_accepted,
    upsert_check,
)
from sources import chunks, creating, creating_many, cycling, once_each

# The bulk upsert row: users per request, and fewer connections than the other rows, since
# each request carries ~320 KB and keeps the single SQLite writer busy on its own.
BULK_USERS = 1000
BULK_CONNECTIONS = 2
# Insider preload: users in the pool the profile row reads; users per upsert when topping up
# a pool; rounds of resending upserts that failed (an upsert may be sent again safely).
INSIDER_PROFILE_USERS = 2000
INSIDER_PRELOAD_BULK = 100
INSIDER_PRELOAD_RETRIES = 3


class InsiderRows(Harness):
    """Mixed into the surface bench: ``obl_host`` is the main server's host header."""

    obl_host: str
    preloaded_insider: dict[str, int]

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
        profile = "POST /api/user/v1/profile"
        await self.measure(
            "insider profile",
            profile,
            post,
            self.obliviate,
            cycling(profiles),
            checked=profile_check(),
        )
        await self.measure_wrk("insider profile", profile, post, self.obliviate, profiles)
        await self.measure(
            "insider identity delete",
            "DELETE /api/user/v1/identity",
            post,
            self.obliviate,
            once_each(identity_deletes),
            checked=exact_body_check(b"{}"),
        )
