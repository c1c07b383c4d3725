"""Running a service: logging (JSON lines, shopkit.logs) and uvicorn, configured by the service's settings."""

import logging

import uvicorn
from graphql import GraphQLError

from shopkit.errors import ShopError
from shopkit.logs import JsonLines
from shopkit.settings import ServiceSettings


class ExpectedErrorFilter(logging.Filter):
    """Keeps client errors (bad input, forbidden, ...) out of the error log.

    Strawberry logs every GraphQL error with a traceback; a `ShopError` is an
    answer the service chose to give, not a fault, so only the rest is logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.msg
        return not (isinstance(error, GraphQLError) and isinstance(error.original_error, ShopError))


def configure_logging(level: str) -> None:
    """Every logger, uvicorn's too, writes JSON lines to stderr (the process's log file)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("strawberry.execution").addFilter(ExpectedErrorFilter())


def serve(app_factory: str, settings: ServiceSettings) -> None:
    """Runs the app `app_factory` names ("module:function"), which reads the same settings."""
    configure_logging(settings.log_level)
    uvicorn.run(
        app_factory,
        factory=True,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=settings.access_log,
        lifespan="on",
        # uvicorn's loggers propagate to the root logger configured above.
        log_config=None,
    )
