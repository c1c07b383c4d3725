"""Running a service: logging and uvicorn, configured from the environment."""

import logging
import os

import uvicorn
from graphql import GraphQLError

from shopkit.errors import ShopError


class ExpectedErrorFilter(logging.Filter):
    """Keeps client errors (bad input, forbidden, ...) out of the error log.

    Strawberry logs every GraphQL error with a traceback; a `ShopError` is an
    answer the service chose to give, not a fault, so only the rest is logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        return not (isinstance(error, GraphQLError) and isinstance(error.original_error, ShopError))


def configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("strawberry.execution").addFilter(ExpectedErrorFilter())


def serve(app_factory: str, default_port: int) -> None:
    configure_logging()
    uvicorn.run(
        app_factory,
        factory=True,
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", str(default_port))),
        log_level=os.environ.get("LOG_LEVEL", "info").lower(),
        access_log=os.environ.get("ACCESS_LOG", "0") == "1",
        lifespan="on",
    )
