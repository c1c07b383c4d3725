"""Signing up and signing in: the rules around the store and the password hasher."""

from shopkit.auth import Role
from shopkit.errors import BadUserInput, Unauthenticated
from users.credentials import PASSWORD_MAX_LENGTH, check_new_password, clean_name, normalise_email
from users.passwords import Passwords
from users.store import EmailTaken, UserRecord, UserStore

WRONG_CREDENTIALS = "Wrong email or password."


async def register(
    store: UserStore, passwords: Passwords, *, email: str, name: str, password: str
) -> UserRecord:
    """Creates a CUSTOMER account; every field is checked before anything is written."""
    normalised_email = normalise_email(email)
    cleaned_name = clean_name(name)
    check_new_password(password)
    # Cheap early answer for the common case; the unique index decides races.
    if await store.find_by_email(normalised_email) is not None:
        raise _email_taken()
    password_hash = await passwords.hash(password)
    try:
        return await store.insert(
            email=normalised_email, name=cleaned_name, role=Role.CUSTOMER, password_hash=password_hash
        )
    except EmailTaken as error:
        raise _email_taken() from error


async def sign_in(store: UserStore, passwords: Passwords, *, email: str, password: str) -> UserRecord:
    """The account these credentials open; the same error whether the email exists or not."""
    try:
        normalised_email = normalise_email(email, allow_reserved_domain=True)
    except BadUserInput as error:
        raise Unauthenticated(WRONG_CREDENTIALS) from error
    if len(password) > PASSWORD_MAX_LENGTH:
        raise Unauthenticated(WRONG_CREDENTIALS)
    user = await store.find_by_email(normalised_email)
    if user is None:
        await passwords.verify_nothing(password)
        raise Unauthenticated(WRONG_CREDENTIALS)
    if not await passwords.verify(user.password_hash, password):
        raise Unauthenticated(WRONG_CREDENTIALS)
    if passwords.needs_rehash(user.password_hash):
        await store.update_credentials(user.id, password_hash=await passwords.hash(password))
    return user


def _email_taken() -> BadUserInput:
    return BadUserInput("An account with this email already exists: sign in instead.", field="email")
