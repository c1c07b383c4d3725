"""The accounts every installation starts with: the admin and a demo customer.

Idempotent: run at every start. An existing account keeps its id, name and
addresses; its role is set to the configured one and its password hash is
replaced only when the configured password no longer matches it.
"""

import logging
from dataclasses import dataclass

from shopkit.auth import Role
from users.config import Settings
from users.credentials import check_new_password, normalise_email
from users.passwords import Passwords
from users.store import EmailTaken, UserRecord, UserStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeedAccount:
    email: str
    name: str
    password: str
    role: Role


def seed_accounts(settings: Settings) -> list[SeedAccount]:
    return [
        SeedAccount(settings.admin_email, "Administrator", settings.admin_password, Role.ADMIN),
        SeedAccount(
            settings.demo_customer_email, "Demo Customer", settings.demo_customer_password, Role.CUSTOMER
        ),
    ]


async def seed(store: UserStore, passwords: Passwords, settings: Settings) -> None:
    for account in seed_accounts(settings):
        await ensure_account(store, passwords, account)


async def ensure_account(store: UserStore, passwords: Passwords, account: SeedAccount) -> None:
    # A misconfigured seed account must stop the start, not be skipped silently.
    email = normalise_email(account.email, allow_reserved_domain=True)
    check_new_password(account.password)
    existing = await store.find_by_email(email)
    if existing is None:
        password_hash = await passwords.hash(account.password)
        try:
            await store.insert(email=email, name=account.name, role=account.role, password_hash=password_hash)
        except EmailTaken:
            # Another instance created it between our read and our insert.
            existing = await store.find_by_email(email)
            if existing is None:
                raise
        else:
            log.info("created the %s account %s", account.role.value, email)
            return
    await _align(store, passwords, existing, account)


async def _align(store: UserStore, passwords: Passwords, existing: UserRecord, account: SeedAccount) -> None:
    role = None if existing.role is account.role else account.role
    password_hash = None
    if passwords.needs_rehash(existing.password_hash) or not await passwords.verify(
        existing.password_hash, account.password
    ):
        password_hash = await passwords.hash(account.password)
    if role is None and password_hash is None:
        return
    await store.update_credentials(existing.id, role=role, password_hash=password_hash)
    log.info("updated the role or password of the %s account %s", account.role.value, existing.email)
