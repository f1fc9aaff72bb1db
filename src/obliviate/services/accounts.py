"""Use cases on accounts, the organisations users belong to."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from obliviate.domain.accounts import Account, merge_account_attributes
from obliviate.domain.errors import AccountNotFound, DuplicateAccount
from obliviate.domain.free_form import check_free_form
from obliviate.domain.tenants import Caller
from obliviate.services.deletions import people_in, soft_delete_found
from obliviate.services.guard import admit_deletions
from obliviate.services.ports import UnitOfWork

_SCAN_CHUNK = 500


@dataclass(frozen=True, slots=True)
class AccountView:
    account: Account
    # Active users whose accountId names it.
    users: int


@dataclass(frozen=True, slots=True)
class AccountDeleted:
    # Users soft-deleted with it.
    users: int


def _users(uow: UnitOfWork, account_id: str) -> int:
    return uow.profiles.count_of_accounts([account_id])[account_id]


def create_account(
    uow: UnitOfWork, *, account_id: str, attributes: dict[str, Any], now: int
) -> AccountView:
    check_free_form(attributes, field="account")
    account = Account(account_id, attributes, created_at=now, updated_at=now)
    if not uow.accounts.insert(account):
        raise DuplicateAccount(account_id)
    return AccountView(account, _users(uow, account_id))


def update_account(
    uow: UnitOfWork, *, account_id: str, changes: dict[str, Any], now: int
) -> AccountView:
    """Partial: fields left out are kept."""
    current = uow.accounts.get(account_id, for_update=True)
    if current is None:
        raise AccountNotFound(account_id)
    attributes = merge_account_attributes(current.attributes, changes)
    check_free_form(attributes, field="account")
    account = replace(current, attributes=attributes, updated_at=now)
    uow.accounts.save(account)
    return AccountView(account, _users(uow, account_id))


def get_account(uow: UnitOfWork, *, account_id: str) -> AccountView:
    account = uow.accounts.get(account_id)
    if account is None:
        raise AccountNotFound(account_id)
    return AccountView(account, _users(uow, account_id))


def delete_account(
    uow: UnitOfWork, *, caller: Caller, account_id: str, now: int, confirmed: bool = False
) -> AccountDeleted:
    """Remove the account and soft-delete every active user of it, as one change: the guard
    counts them all, so an account of many users needs the caller's explicit confirmation."""
    if uow.accounts.get(account_id, for_update=True) is None:
        raise AccountNotFound(account_id)
    users = uow.profiles.active_of_account(account_id)
    if users:
        admit_deletions(
            uow,
            tenant=caller.tenant,
            count=people_in(uow, [p.profile_id for p in users]),
            confirmed=confirmed,
            now=now,
        )
    for profile in users:
        soft_delete_found(uow, caller=caller, profile=profile, now=now)
    uow.accounts.delete(account_id)
    return AccountDeleted(users=len(users))


def scan_accounts(uow: UnitOfWork) -> Iterator[AccountView]:
    """Every account of the tenant in id order with its users counted, a chunk at a time."""
    after: str | None = None
    while True:
        chunk = uow.accounts.page(after=after, limit=_SCAN_CHUNK)
        counts = uow.profiles.count_of_accounts([a.account_id for a in chunk])
        for account in chunk:
            yield AccountView(account, counts[account.account_id])
        if len(chunk) < _SCAN_CHUNK:
            return
        after = chunk[-1].account_id
