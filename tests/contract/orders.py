"""A stand-in for the orders subgraph's `shipOrder`: the contract's record of what delivery sends to
orders, and of each answer delivery must handle.

Before a parcel goes IN_TRANSIT, delivery asks orders to mark the order shipped (`ORDERS_URL`;
the wire contract is in README.md). The suite runs no other subgraph, so each implementation is
pointed at this HTTP endpoint instead. It records every request (its body, `authorization` and
`traceparent`) and answers as a test configures per order id (`Answer`; a confirmation unless told
otherwise). The real orders service, and the race between a cancel and a shipment it decides, are
exercised by the end-to-end suites in tests/e2e.

The root environment has no GraphQL parser, so `shipped_order_id` reads just enough of the
document to say which order it ships: one mutation whose one root field is `shipOrder(id: ...)`.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONFLICT_MESSAGE = "Order SG-000042 was cancelled and cannot ship."
# Longer than delivery's 2 s timeout: delivery must have given up before this answer comes.
SLOW_SECONDS = 3.5


class Answer(Enum):
    CONFIRM = "the order is shipped"
    CONFLICT = "CONFLICT: the order was cancelled"
    SERVER_ERROR = "HTTP 500"
    OTHER_ERROR = "HTTP 200 with an error that is not CONFLICT"
    NOT_SHIPPED = "HTTP 200, no errors, shipOrder null"
    NOT_JSON = "HTTP 200 with a body that is not JSON"
    TOO_SLOW = f"a confirmation after {SLOW_SECONDS} s"


@dataclass(frozen=True)
class ShipOrderRequest:
    """One POST delivery sent to orders, as received."""

    path: str
    content_type: str | None
    authorization: str | None
    traceparent: str | None
    body: Any

    @property
    def order_id(self) -> str | None:
        """The order the operation asks to ship; None if it is not a `shipOrder` mutation."""
        try:
            return shipped_order_id(self.body)
        except ValueError:
            return None


class OrdersStandIn:
    """The endpoint, on a free loopback port while `serving_orders` runs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[ShipOrderRequest] = []
        self._answers: dict[str, Answer] = {}
        self._closing = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    @property
    def requests(self) -> list[ShipOrderRequest]:
        with self._lock:
            return list(self._requests)

    def answer(self, order_id: str, answer: Answer) -> None:
        with self._lock:
            self._answers[order_id] = answer

    def reset(self) -> None:
        """Forgets the requests received and the answers configured."""
        with self._lock:
            self._requests.clear()
            self._answers.clear()

    @contextmanager
    def away(self) -> Iterator[None]:
        """Orders is down: connections to its port are refused until the block ends."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    def respond(self, request: ShipOrderRequest) -> tuple[int, bytes]:
        """Records the request; the HTTP status and body to answer it with, once it is time to."""
        order_id = request.order_id
        with self._lock:
            self._requests.append(request)
            answer = self._answers.get(order_id, Answer.CONFIRM) if order_id else Answer.CONFIRM
        if answer is Answer.TOO_SLOW:
            self._closing.wait(SLOW_SECONDS)
        return _reply(answer, order_id)

    def start(self) -> None:
        # The same port again after `away`: delivery's ORDERS_URL names it.
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self.port = server.server_address[1]
        self._closing.clear()
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is None:
            return
        self._closing.set()  # a slow answer still waiting is sent now, to a caller long gone
        self._server.shutdown()
        self._server.server_close()
        self._server = None


@contextmanager
def serving_orders() -> Iterator[OrdersStandIn]:
    stand_in = OrdersStandIn()
    stand_in.start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


def _handler_for(stand_in: OrdersStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            try:
                body: Any = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
            request = ShipOrderRequest(
                path=self.path,
                content_type=self.headers.get("content-type"),
                authorization=self.headers.get("authorization"),
                traceparent=self.headers.get("traceparent"),
                body=body,
            )
            status, payload = stand_in.respond(request)
            try:
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # delivery stopped waiting (TOO_SLOW)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _error(message: str, code: str) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code}}


INTERNAL = _error("Internal server error.", "INTERNAL_SERVER_ERROR")
REFUSED = _error(CONFLICT_MESSAGE, "CONFLICT")


def _reply(answer: Answer, order_id: str | None) -> tuple[int, bytes]:
    if order_id is None:
        refused = _error("The stand-in answers only shipOrder(id:).", "BAD_REQUEST")
        return 400, json.dumps({"errors": [refused]}).encode()
    if answer is Answer.NOT_JSON:
        return 200, b"<html><body>502 Bad Gateway</body></html>"
    shipped = {"data": {"shipOrder": {"id": order_id, "status": "SHIPPED"}}}
    replies: dict[Answer, tuple[int, dict[str, Any]]] = {
        Answer.CONFIRM: (200, shipped),
        Answer.TOO_SLOW: (200, shipped),
        Answer.CONFLICT: (200, {"errors": [REFUSED], "data": {"shipOrder": None}}),
        Answer.SERVER_ERROR: (500, {"errors": [INTERNAL]}),
        Answer.OTHER_ERROR: (200, {"errors": [INTERNAL], "data": None}),
        Answer.NOT_SHIPPED: (200, {"data": {"shipOrder": None}}),
    }
    status, body = replies[answer]
    return status, json.dumps(body).encode()


# Reading the operation. Commas are insignificant in GraphQL; comments run to the end of a line.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\$?[_A-Za-z][_0-9A-Za-z]*|-?[0-9][0-9.eE+-]*|[!():=@{}\[\]]|\.\.\.')
_IGNORED = re.compile(r"#[^\n]*|[\s,]+")


def shipped_order_id(body: Any) -> str:
    """The order a GraphQL request body ships: `id` of the one root field `shipOrder` of its one
    mutation, a variable (looked up in `variables`) or a string literal. ValueError otherwise."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise ValueError(f"not a GraphQL request: {body!r}")
    tokens = _tokens(body["query"])
    if not tokens or tokens[0] != "mutation" or "{" not in tokens:
        raise ValueError("not a mutation")
    position = tokens.index("{") + 1
    field = _at(tokens, position)
    if _at(tokens, position + 1) == ":":  # an alias
        position += 2
        field = _at(tokens, position)
    if field != "shipOrder" or _at(tokens, position + 1) != "(":
        raise ValueError(f"the root field is {field!r}, not shipOrder(...)")
    arguments, position = _arguments(tokens, position + 2)
    if _at(tokens, position) == "{":
        position = _skip_block(tokens, position)
    if tokens[position:] != ["}"]:
        raise ValueError("shipOrder is not the one root field of one operation")
    value = arguments.get("id")
    if value is not None and value.startswith("$"):
        variables = body.get("variables") or {}
        value = variables.get(value[1:]) if isinstance(variables, dict) else None
        if not isinstance(value, str):
            raise ValueError("the id variable is not a string")
        return value
    if value is None or not value.startswith('"'):
        raise ValueError("shipOrder has no id argument, or not a string")
    literal: str = json.loads(value)
    return literal


def _tokens(document: str) -> list[str]:
    tokens: list[str] = []
    position = 0
    while position < len(document):
        ignored = _IGNORED.match(document, position)
        if ignored:
            position = ignored.end()
            continue
        token = _TOKEN.match(document, position)
        if token is None:
            raise ValueError(f"cannot read the document at {document[position : position + 20]!r}")
        tokens.append(token.group())
        position = token.end()
    return tokens


def _at(tokens: list[str], position: int) -> str | None:
    return tokens[position] if position < len(tokens) else None


def _arguments(tokens: list[str], position: int) -> tuple[dict[str, str], int]:
    """`name: value` pairs (scalar values only) up to the closing parenthesis; and what follows it."""
    arguments: dict[str, str] = {}
    while _at(tokens, position) != ")":
        name, colon, value = _at(tokens, position), _at(tokens, position + 1), _at(tokens, position + 2)
        if name is None or colon != ":" or value is None or value in {"(", ")", "[", "]", "{", "}"}:
            raise ValueError("cannot read shipOrder's arguments")
        arguments[name] = value
        position += 3
    return arguments, position + 1


def _skip_block(tokens: list[str], position: int) -> int:
    """The position after the selection set opening at `position`."""
    depth = 0
    for index in range(position, len(tokens)):
        depth += {"{": 1, "}": -1}.get(tokens[index], 0)
        if depth == 0:
            return index + 1
    raise ValueError("an unclosed selection set")
