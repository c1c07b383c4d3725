"""The users service's rules: signing up and signing in, around the store and the password hasher."""

from shopkit.auth import Role
from shopkit.errors import BadUserInput, Unauthenticated
from users.credentials import PASSWORD_MAX_LENGTH, check_new_password, clean_name, normalise_email
from users.passwords import Passwords
from users.store import EmailTaken, UserRecord, UserStore
from users.throttle import SignInAttempt, SignInThrottle

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


async def sign_in(
    store: UserStore,
    passwords: Passwords,
    throttle: SignInThrottle,
    *,
    email: str,
    password: str,
    client_address: str | None,
) -> UserRecord:
    """The account these credentials open; the same error whether the email exists or not.

    Throttled (users.throttle): while the account or the client address has too
    many recent failures, the attempt is refused with `RATE_LIMITED` before any
    password is hashed, even with the right password; while it has some, or
    another sign-in of it is being checked, the attempt's turn at hashing comes
    after every other waiting sign-in.
    """
    try:
        normalised_email: str | None = normalise_email(email, allow_reserved_domain=True)
    except BadUserInput:
        normalised_email = None
    attempt = SignInAttempt.of(normalised_email, client_address)
    suspect = await throttle.check(attempt) or throttle.busy(attempt)
    if normalised_email is None or len(password) > PASSWORD_MAX_LENGTH:
        await throttle.record_failure(attempt)
        raise Unauthenticated(WRONG_CREDENTIALS)
    with throttle.in_flight(attempt):
        user = await store.find_by_email(normalised_email)
        verified = await _verify_in_turn(passwords, throttle, attempt, suspect, user, password)
    if user is None or not verified:
        raise Unauthenticated(WRONG_CREDENTIALS)
    await throttle.record_success(attempt)
    if passwords.needs_rehash(user.password_hash):
        await store.update_credentials(user.id, password_hash=await passwords.hash(password))
    return user


async def _verify_in_turn(
    passwords: Passwords,
    throttle: SignInThrottle,
    attempt: SignInAttempt,
    suspect: bool,
    user: UserRecord | None,
    password: str,
) -> bool:
    """Verifies the password in a hashing turn; an account or address that failed recently
    waits until nobody else does (users.slots)."""
    while True:
        async with passwords.turn(suspect=suspect) as turn:
            # Checked again now that a hashing slot is ours, and the failure counted before
            # the slot is given up: attempts that queued behind an attack on this account or
            # address give up here, without hashing.
            if await throttle.check(attempt) and not suspect:
                # Failures came for this account or address while it waited (the first wave
                # of an attack queues before any is counted): to the back of the queue.
                suspect = True
                continue
            if user is None:
                await turn.verify_nothing(password)
                verified = False
            else:
                verified = await turn.verify(user.password_hash, password)
            if not verified:
                await throttle.record_failure(attempt)
            return verified


def _email_taken() -> BadUserInput:
    return BadUserInput("An account with this email already exists: sign in instead.", field="email")
