"""The rules for what a user may sign up with: email, name and password."""

import re

from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email

from shopkit.errors import BadUserInput

PASSWORD_MIN_LENGTH = 8
# argon2 accepts any length; the cap keeps one request from hashing megabytes.
PASSWORD_MAX_LENGTH = 128
NAME_MAX_LENGTH = 100
# Dot-separated ASCII labels, as a special-use domain of an operator's account is.
_DOMAIN = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def normalise_email(email: str, *, allow_reserved_domain: bool = False) -> str:
    """The canonical form we store and look up: validated, then lowercased.

    Lowercasing the local part too is stricter than RFC 5321, but no mail
    provider treats `Ann@x.com` and `ann@x.com` as two people, and it keeps
    one account per address.

    Sign-up refuses special-use domains such as `.local` (no one can receive
    mail there); `allow_reserved_domain` accepts them for the accounts the
    operator configures (the default admin is `admin@shopgraph.local`) and for
    signing in to those rules.
    """
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        reserved = _with_reserved_domain(email) if allow_reserved_domain else None
        if reserved is not None:
            return reserved
        raise BadUserInput(f"The email address is not valid: {error}", field="email") from error
    return checked.normalized.lower()


def _with_reserved_domain(email: str) -> str | None:
    """The address if only its special-use domain makes it invalid, else None."""
    local_part, _, domain = email.strip().rpartition("@")
    domain = domain.lower()
    if not any(domain == name or domain.endswith("." + name) for name in SPECIAL_USE_DOMAIN_NAMES):
        return None
    if not _DOMAIN.fullmatch(domain):
        return None
    try:
        # Everything but the domain must pass the usual checks.
        checked = validate_email(f"{local_part}@example.com", check_deliverability=False)
    except EmailNotValidError:
        return None
    return f"{checked.local_part}@{domain}".lower()


def clean_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned:
        raise BadUserInput("name must not be empty.", field="name")
    if len(cleaned) > NAME_MAX_LENGTH:
        raise BadUserInput(f"name must be at most {NAME_MAX_LENGTH} characters.", field="name")
    return cleaned


def check_new_password(password: str) -> str:
    if len(password) < PASSWORD_MIN_LENGTH:
        raise BadUserInput(f"password must be at least {PASSWORD_MIN_LENGTH} characters.", field="password")
    if len(password) > PASSWORD_MAX_LENGTH:
        raise BadUserInput(f"password must be at most {PASSWORD_MAX_LENGTH} characters.", field="password")
    return password
