"""payOrder's idempotency key, through the router: a retry never charges twice.

Charges are counted where they are recorded, in the payments service's own
MongoDB (the test stack's FerretDB), not only through the graph.
"""

from concurrent.futures import ThreadPoolExecutor

import httpx
from pymongo.database import Database

from e2e.shop import CARD_DECLINED, Account, Graph, Result, Shop, card, new_key

CONCURRENT_DUPLICATES = 20


def test_same_key_twice_returns_the_same_payment(
    shop: Shop, customer: Account, payments_db: Database[dict[str, object]]
) -> None:
    placed = shop.place_order(customer)
    key = new_key()

    first = shop.pay(customer, placed["id"], key=key).ok()["payOrder"]
    second = shop.pay(customer, placed["id"], key=key).ok()["payOrder"]

    assert first["status"] == second["status"] == "CAPTURED"
    assert second["id"] == first["id"]
    assert payments_db["payments"].count_documents({"orderId": placed["id"]}) == 1


def test_same_key_with_another_card_is_refused(
    shop: Shop, customer: Account, payments_db: Database[dict[str, object]]
) -> None:
    placed = shop.place_order(customer)
    key = new_key()
    shop.pay(customer, placed["id"], key=key).ok()

    other = shop.pay(customer, placed["id"], CARD_DECLINED, key=key)

    other.failed_with("BAD_USER_INPUT")
    assert payments_db["payments"].count_documents({"orderId": placed["id"]}) == 1


def test_concurrent_duplicates_charge_once(
    shop: Shop, customer: Account, payments_db: Database[dict[str, object]]
) -> None:
    placed = shop.place_order(customer)
    variables = {"input": {"orderId": placed["id"], "card": card(), "idempotencyKey": new_key()}}

    def pay_once(_: int) -> Result:
        # One connection per request, so the router really sees them concurrently.
        with httpx.Client(timeout=60.0) as client:
            return Graph(shop.graph.url, client).run("PayOrder", variables, token=customer.token)

    with ThreadPoolExecutor(max_workers=CONCURRENT_DUPLICATES) as pool:
        results = list(pool.map(pay_once, range(CONCURRENT_DUPLICATES)))

    answered = [result for result in results if not result.errors]
    # A duplicate that arrives while the first is being charged may be told to retry (CONFLICT);
    # retried, it must get the same payment.
    retried = [
        shop.pay(customer, placed["id"], key=variables["input"]["idempotencyKey"])
        for r in results
        if r.errors
    ]
    for result in results:
        if result.errors:
            assert result.codes == ["CONFLICT"], result.errors
    payment_ids = {result.ok()["payOrder"]["id"] for result in answered + retried}
    assert len(payment_ids) == 1, payment_ids
    assert answered, "every concurrent duplicate was refused"
    assert payments_db["payments"].count_documents({"orderId": placed["id"]}) == 1
    (charge,) = payments_db["payments"].find({"orderId": placed["id"]})
    assert charge["status"] == "CAPTURED"
