"""What the tests share, imported by name (``conftest.py`` holds only fixtures and hooks).

- ``clock``: ``FakeClock``, the real ``now_ms`` and ``worker_on_clock``.
- ``environment``: where the real PostgreSQL and Redis are, and skipping when they are not.
- ``tenants``: the ``Tenant`` credentials, ``new_tenant`` and ``sign_in`` as a surface would.
- ``headers``: each surface's authentication headers for a tenant.
- ``rows``: reading the database behind the API: snapshots, a tenant's rows, jobs, receipts,
  counts.
- ``databases``: a database of a test's own (a SQLite file or a fresh PostgreSQL database).
- ``sealed``: opening the sealed values a server process wrote.
- ``servers``: real ``obliviate`` processes for system tests and the environment they run with.
"""
