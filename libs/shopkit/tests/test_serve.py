import logging

import pytest
from graphql import GraphQLError

from shopkit.errors import Forbidden
from shopkit.serve import ExpectedErrorFilter


def record_for(error: GraphQLError) -> logging.LogRecord:
    return logging.LogRecord("strawberry.execution", logging.ERROR, __file__, 1, error, None, None)


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (GraphQLError("nope", original_error=Forbidden("nope")), False),
        (GraphQLError("boom", original_error=RuntimeError("boom")), True),
        (GraphQLError("Cannot query field 'x'"), True),
    ],
)
def test_only_unexpected_errors_are_logged(error: GraphQLError, logged: bool) -> None:
    assert ExpectedErrorFilter().filter(record_for(error)) is logged
