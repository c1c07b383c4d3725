"""GraphQL errors a client may see, and the masking of everything else.

Every error a resolver raises on purpose is a `ShopError` carrying an
`extensions.code` that clients can branch on. A store that cannot be reached
(restarting, failing over, out of connections) reaches the client as
SERVICE_UNAVAILABLE with `retryable: true`, and so does a command FerretDB
cancelled as it shut down (`shopkit.ferretdb.is_shutdown_refusal`). Anything
else is a bug and reaches the client as "Internal server error." without detail.
"""

from typing import Any

from graphql import GraphQLError
from pymongo.errors import ConnectionFailure
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from strawberry.extensions import MaskErrors

from shopkit.ferretdb import is_shutdown_refusal

STORE_UNREACHABLE = (ConnectionFailure, RedisConnectionError, RedisTimeoutError)
STORE_RETRY_AFTER_SECONDS = 1


def is_store_unreachable(error: BaseException | None) -> bool:
    """The store went away under this operation: retrying once it is back may succeed."""
    return error is not None and (isinstance(error, STORE_UNREACHABLE) or is_shutdown_refusal(error))


class ShopError(Exception):
    code = "INTERNAL_SERVER_ERROR"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, **self.details}


class BadUserInput(ShopError):
    code = "BAD_USER_INPUT"


class Unauthenticated(ShopError):
    code = "UNAUTHENTICATED"


class Forbidden(ShopError):
    code = "FORBIDDEN"


class NotFound(ShopError):
    code = "NOT_FOUND"


class Conflict(ShopError):
    """The request is valid but the entity's current state refuses it."""

    code = "CONFLICT"


class RateLimited(ShopError):
    """Too many attempts: refused without being tried; `retryAfterSeconds` says when to retry."""

    code = "RATE_LIMITED"


class ServiceUnavailable(ShopError):
    """A dependency this operation needs is down; retrying later may succeed."""

    code = "SERVICE_UNAVAILABLE"


def _is_expected(error: GraphQLError) -> bool:
    # Validation and parse errors have no original error, and variables that do
    # not match their input type wrap a GraphQLError: all are about what the
    # client sent and are safe to show as they are.
    return error.original_error is None or isinstance(error.original_error, ShopError | GraphQLError)


class MaskInternalErrors(MaskErrors):
    """Shows `ShopError`s with their code; hides everything else."""

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda error: not _is_expected(error),
            error_message="Internal server error.",
        )

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        if is_store_unreachable(error.original_error):
            masked.message = "A store this operation needs cannot be reached right now; retry shortly."
            masked.extensions = {
                "code": ServiceUnavailable.code,
                "retryable": True,
                "retryAfterSeconds": STORE_RETRY_AFTER_SECONDS,
            }
        else:
            masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked
