"""What a client sees of an error: its code for a ShopError, a retryable SERVICE_UNAVAILABLE
for a store that cannot be reached, and nothing but "Internal server error." for a bug."""

from typing import Any

import strawberry
from pymongo.errors import AutoReconnect, OperationFailure, ServerSelectionTimeoutError
from redis.exceptions import ConnectionError as RedisConnectionError

from shopkit.errors import BadUserInput, MaskInternalErrors


def ferretdb_reply(message: str) -> dict[str, Any]:
    return {"ok": 0.0, "errmsg": message, "code": 1, "codeName": "InternalError"}


@strawberry.type
class Query:
    @strawberry.field
    def bad_input(self) -> str:
        raise BadUserInput("quantity must be 1..100", field="quantity")

    @strawberry.field
    def mongo_pool_paused(self) -> str:
        raise AutoReconnect("127.0.0.1:27017: connection pool paused")

    @strawberry.field
    def mongo_unselectable(self) -> str:
        raise ServerSelectionTimeoutError("127.0.0.1:27017: [Errno 111] Connection refused")

    @strawberry.field
    def ferretdb_shutting_down(self) -> str:
        # What FerretDB 1.24 answered an in-flight insert with while it stopped (seen in CI).
        message = "[msg_insert.go:168 handler.(*Handler).MsgInsert] context canceled"
        raise OperationFailure(message, 1, ferretdb_reply(message))

    @strawberry.field
    def ferretdb_other_internal_error(self) -> str:
        message = "[msg_insert.go:168 handler.(*Handler).MsgInsert] unexpected end of JSON input"
        raise OperationFailure(message, 1, ferretdb_reply(message))

    @strawberry.field
    def redis_down(self) -> str:
        raise RedisConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    @strawberry.field
    def bug(self) -> str:
        raise KeyError("customerId")


schema = strawberry.Schema(query=Query, extensions=[MaskInternalErrors])


def error_of(field: str) -> dict[str, Any]:
    result = schema.execute_sync(f"{{ {field} }}")
    assert result.errors is not None
    (error,) = result.errors
    return dict(error.formatted)


def test_a_shop_error_keeps_its_message_code_and_details() -> None:
    error = error_of("badInput")

    assert error["message"] == "quantity must be 1..100"
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "quantity"}


def test_an_unreachable_store_is_a_retryable_service_unavailable_without_its_address() -> None:
    for field in ("mongoPoolPaused", "mongoUnselectable", "ferretdbShuttingDown", "redisDown"):
        error = error_of(field)

        assert error["extensions"] == {
            "code": "SERVICE_UNAVAILABLE",
            "retryable": True,
            "retryAfterSeconds": 1,
        }
        assert "retry" in error["message"]
        assert "127.0.0.1" not in error["message"]
        assert error["path"] == [field]


def test_anything_else_is_an_internal_error_without_detail() -> None:
    for field in ("bug", "ferretdbOtherInternalError"):
        error = error_of(field)

        assert error["message"] == "Internal server error."
        assert error["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
