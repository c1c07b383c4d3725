// The values derived from an order are those the Python implementation derives (expected
// values printed by subgraphs/delivery's carrier_for and estimated_delivery).

import assert from "node:assert/strict";
import { test } from "node:test";

import { ShopError } from "../src/errors.js";
import { NEEDS_ORDERS_CONFIRMATION, base32, carrierFor, checkCarrierMove, estimatedDelivery, newTrackingNumber } from "../src/rules.js";
import { envelopeFromJson, envelopeToJson, newEnvelope } from "../src/envelope.js";

test("the carrier is chosen by the order id", () => {
  assert.equal(carrierFor("order-1"), "PostNL");
  assert.equal(carrierFor("order-2"), "UPS");
});

test("the estimate is 18:00 UTC 3 to 5 business days on, weekends skipped", () => {
  const friday = { epochMs: Date.UTC(2026, 0, 2, 10, 0), microRemainder: 0 };
  const saturdayNight = { epochMs: Date.UTC(2026, 0, 3, 20, 0), microRemainder: 0 };
  assert.equal(estimatedDelivery("order-1", friday), "2026-01-08T18:00:00+00:00");
  assert.equal(estimatedDelivery("order-2", saturdayNight), "2026-01-08T18:00:00+00:00");
});

test("tracking numbers are SG and 16 base32 characters", () => {
  assert.equal(base32(Uint8Array.from([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])), "AAAQEAYEAUDAOCAJ");
  assert.equal(base32(new Uint8Array(10).fill(255)), "7777777777777777");
  assert.match(newTrackingNumber(), /^SG[A-Z2-7]{16}$/);
});

test("an envelope is written with sorted keys and read back", () => {
  const envelope = newEnvelope("delivery.scheduled", "delivery", null, { orderId: "o", deliveryId: "d" });
  const json = envelopeToJson(envelope);
  assert.ok(json.startsWith('{"data":{"deliveryId":"d","orderId":"o"},"id":'));
  assert.deepEqual(envelopeFromJson(json), envelope);
  assert.throws(() => envelopeFromJson('{"id":"x"}'), /no type/);
});

test("only the move to IN_TRANSIT waits for orders; a move the carrier may not make is a CONFLICT naming the status", () => {
  assert.deepEqual(NEEDS_ORDERS_CONFIRMATION, ["IN_TRANSIT"]);
  checkCarrierMove("SCHEDULED", "IN_TRANSIT");
  checkCarrierMove("IN_TRANSIT", "DELIVERED");
  assert.throws(
    () => checkCarrierMove("CANCELLED", "IN_TRANSIT"),
    (error: unknown) =>
      error instanceof ShopError &&
      error.message === "A CANCELLED delivery cannot become IN_TRANSIT." &&
      JSON.stringify(error.extensions) === JSON.stringify({ code: "CONFLICT", status: "CANCELLED" }),
  );
});
