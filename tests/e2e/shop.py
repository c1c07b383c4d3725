"""A client of the composed graph, as a shop's frontend would be one.

It runs the canonical operations in `tests/operations/*.graphql` through the
router with real tokens (obtained by registering and signing in through the
router too) and offers the few multi-step flows the end-to-end, fault and event
tests share: sign up a customer, place an order, pay it, wait until something
becomes true.

Waiting is always bounded: `eventually` polls until a condition holds or a
generous deadline passes, then fails with the last thing it saw. Nothing here
asserts on how long anything took.
"""

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

OPERATIONS_DIR = Path(__file__).resolve().parents[1] / "operations"

# The card processor's documented test cards (issue 5).
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_NO_FUNDS = "4000000000009995"

DEFAULT_DEADLINE = 60.0
DEFAULT_ADDRESS: dict[str, Any] = {
    "line1": "1 Main Street",
    "line2": None,
    "city": "Springfield",
    "postalCode": "12345",
    "country": "US",
}
# Two products of the seeded catalog (subgraphs/orders/src/orders/seed.py).
DEFAULT_ITEMS: list[dict[str, Any]] = [
    {"sku": "KB-MECH-TKL", "quantity": 1},
    {"sku": "MUG-CER-350", "quantity": 2},
]

T = TypeVar("T")


def operation(name: str) -> str:
    """The text of `tests/operations/<name>.graphql`."""
    return (OPERATIONS_DIR / f"{name}.graphql").read_text()


def card(number: str = CARD_OK) -> dict[str, Any]:
    return {"number": number, "expMonth": 12, "expYear": 2034, "cvc": "123"}


def new_key() -> str:
    return f"key-{uuid.uuid4().hex}"


@dataclass(frozen=True)
class Result:
    """One GraphQL response as the router sent it."""

    status: int
    body: dict[str, Any]

    @property
    def data(self) -> dict[str, Any] | None:
        data = self.body.get("data")
        return data if isinstance(data, dict) else None

    @property
    def errors(self) -> list[dict[str, Any]]:
        errors = self.body.get("errors")
        return list(errors) if isinstance(errors, list) else []

    @property
    def codes(self) -> list[str]:
        return [str((error.get("extensions") or {}).get("code")) for error in self.errors]

    def ok(self) -> dict[str, Any]:
        """The data of a response that must have succeeded completely."""
        assert self.status == 200, f"HTTP {self.status}: {self.body}"
        assert not self.errors, f"unexpected GraphQL errors: {self.errors}"
        assert self.data is not None, f"no data: {self.body}"
        return self.data

    def failed_with(self, code: str) -> list[dict[str, Any]]:
        """The errors of a response that must have failed with `code` (and only that)."""
        assert self.errors, f"expected a {code} error, got data {self.data}"
        assert set(self.codes) == {code}, f"expected only {code} errors, got {self.errors}"
        return self.errors


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    password: str
    token: str
    role: str


@dataclass
class Graph:
    """Runs GraphQL operations against one endpoint (the router, or a subgraph)."""

    url: str
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30.0))

    def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Result:
        sent_headers = {"content-type": "application/json", **(headers or {})}
        if token is not None:
            sent_headers["authorization"] = f"Bearer {token}"
        response = self.client.post(
            self.url, json={"query": query, "variables": dict(variables or {})}, headers=sent_headers
        )
        try:
            body = response.json()
        except ValueError:
            body = {"errors": [{"message": response.text}]}
        return Result(status=response.status_code, body=body)

    def run(
        self,
        name: str,
        variables: Mapping[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Result:
        """Runs the canonical operation `name` (a file in tests/operations)."""
        return self.execute(operation(name), variables, token=token, headers=headers)


def eventually(
    probe: Callable[[], T],
    until: Callable[[T], bool],
    what: str,
    *,
    deadline: float = DEFAULT_DEADLINE,
    pause: float = 0.25,
) -> T:
    """Polls `probe` until `until(value)` holds; fails after `deadline` seconds with the last value."""
    give_up = time.monotonic() + deadline
    while True:
        value = probe()
        if until(value):
            return value
        if time.monotonic() >= give_up:
            raise AssertionError(f"gave up after {deadline:.0f}s waiting for {what}; last seen: {value!r}")
        time.sleep(pause)
        pause = min(pause * 1.5, 2.0)


@dataclass
class Shop:
    """Customer and admin flows through the router."""

    graph: Graph
    admin: Account

    def register(self, name: str = "Test Customer") -> Account:
        """A new customer, signed up through the router.

        Password hashing is slow on purpose, and on a loaded machine it may outlast the
        router's timeout for users. The sign-up may still have gone through then, so the
        customer signs in instead (accounts are test setup here, not what is under test)."""
        email = f"customer-{uuid.uuid4().hex[:12]}@example.com"
        password = f"pw-{uuid.uuid4().hex}"
        variables = {"input": {"email": email, "name": name, "password": password}}
        # A store that was just restarted refuses for a moment, retryably: retry as told.
        result = eventually(
            lambda: self.graph.run("Register", variables),
            lambda answer: not _unavailable(answer),
            "register to reach a store",
        )
        if not _timed_out(result):
            return _account(result.ok()["register"], password)
        signed_in = _patiently(lambda: self.graph.run("Login", {"email": email, "password": password}))
        if signed_in.errors:
            return self.register(name)  # the sign-up did not go through: start over
        return _account(signed_in.ok()["login"], password)

    def login(self, email: str, password: str) -> Account:
        return sign_in(self.graph, email, password)

    def place_order(
        self,
        customer: Account,
        items: list[dict[str, Any]] | None = None,
        address: dict[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        variables = {
            "input": {"items": items or DEFAULT_ITEMS, "shippingAddress": address or DEFAULT_ADDRESS}
        }
        order: dict[str, Any] = self.graph.run(
            "PlaceOrder", variables, token=customer.token, headers=headers
        ).ok()["placeOrder"]
        return order

    def pay(
        self,
        customer: Account,
        order_id: str,
        number: str = CARD_OK,
        key: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        deadline: float = DEFAULT_DEADLINE,
    ) -> Result:
        """payOrder, retried with the same idempotency key while payments has not yet
        learnt of the order (SERVICE_UNAVAILABLE, retryable), reports the same key still in flight (CONFLICT
        "still being processed"), or the router gave up waiting for payments (a loaded
        machine): what a client is told to do, and safe because of the key."""
        variables = {"input": {"orderId": order_id, "card": card(number), "idempotencyKey": key or new_key()}}

        def attempt() -> Result:
            return self.graph.run("PayOrder", variables, token=customer.token, headers=headers)

        return eventually(
            attempt, lambda result: not _retryable(result), f"payOrder of {order_id}", deadline=deadline
        )

    def pay_ok(self, customer: Account, order_id: str, number: str = CARD_OK) -> dict[str, Any]:
        payment: dict[str, Any] = self.pay(customer, order_id, number).ok()["payOrder"]
        return payment

    def order(self, token: str, order_id: str, operation_name: str = "OrderProgress") -> Result:
        return self.graph.run(operation_name, {"id": order_id}, token=token)

    def wait_for_order(
        self,
        token: str,
        order_id: str,
        until: Callable[[dict[str, Any]], bool],
        what: str,
        *,
        partial: bool = False,
        deadline: float = DEFAULT_DEADLINE,
    ) -> dict[str, Any]:
        """Polls OrderProgress until `until(order)` holds. Only complete answers count,
        unless `partial`: then an answer with errors (a subgraph down) counts too."""

        def probe() -> dict[str, Any] | Result:
            result = self.order(token, order_id)
            if (result.errors and not partial) or result.data is None or result.data["order"] is None:
                return result
            order: dict[str, Any] = result.data["order"]
            return order

        found = eventually(
            probe,
            lambda value: isinstance(value, dict) and until(value),
            f"order {order_id}: {what}",
            deadline=deadline,
        )
        assert isinstance(found, dict)
        return found

    def wait_for_delivery(
        self, token: str, order_id: str, *, deadline: float = DEFAULT_DEADLINE
    ) -> dict[str, Any]:
        order = self.wait_for_order(
            token, order_id, lambda o: o["delivery"] is not None, "a delivery", deadline=deadline
        )
        delivery: dict[str, Any] = order["delivery"]
        return delivery

    def set_delivery_status(self, delivery_id: str, status: str, note: str | None = None) -> dict[str, Any]:
        updated: dict[str, Any] = self.graph.run(
            "UpdateDeliveryStatus",
            {"id": delivery_id, "status": status, "note": note},
            token=self.admin.token,
        ).ok()["updateDeliveryStatus"]
        return updated

    def paid_order(
        self, customer: Account, items: list[dict[str, Any]] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """An order placed and paid with the good card, once orders has seen the payment
        (status PAID): (order as placed, payment)."""
        order = self.place_order(customer, items)
        payment = self.pay_ok(customer, order["id"])
        assert payment["status"] == "CAPTURED", payment
        self.wait_for_order(customer.token, order["id"], lambda o: o["status"] == "PAID", "PAID")
        return order, payment


def _retryable(result: Result) -> bool:
    """What a payOrder client is told to retry with the same key."""
    if result.status != 200 or not result.errors:
        return False
    message = str(result.errors[0].get("message", ""))
    if result.codes == ["SERVICE_UNAVAILABLE"]:
        return bool(result.errors[0].get("extensions", {}).get("retryable"))
    if result.codes == ["CONFLICT"]:
        return "still being processed" in message
    return _timed_out(result)


def sign_in(graph: Graph, email: str, password: str) -> Account:
    payload = _patiently(lambda: graph.run("Login", {"email": email, "password": password})).ok()["login"]
    return _account(payload, password)


def _account(payload: dict[str, Any], password: str) -> Account:
    user = payload["user"]
    return Account(
        id=user["id"], email=user["email"], password=password, token=payload["token"], role=user["role"]
    )


def _patiently(call: Callable[[], Result]) -> Result:
    """Signs up or in. Password hashing is slow on purpose, and on a loaded machine it
    may outlast the router's timeout for users; and a store that was just restarted
    answers SERVICE_UNAVAILABLE, retryable, for a moment. Such an attempt is repeated, as
    a client is told to (accounts are test setup here, not what is under test). A
    repeated sign-up whose first attempt did go through fails with BAD_USER_INPUT
    (email taken), which the caller sees."""
    return eventually(
        call,
        lambda result: not (_timed_out(result) or _unavailable(result)),
        "an answer within the router's timeout, from a reachable store",
    )


def _unavailable(result: Result) -> bool:
    """Refused because a store cannot be reached right now, to be retried."""
    if result.codes != ["SERVICE_UNAVAILABLE"]:
        return False
    return bool(result.errors[0].get("extensions", {}).get("retryable"))


def _timed_out(result: Result) -> bool:
    messages = [str(error.get("message", "")).lower() for error in result.errors]
    return any("timeout" in message or "timed out" in message for message in messages)
