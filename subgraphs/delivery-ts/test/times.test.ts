// Times are served exactly as the Python implementation serves them (expected values
// printed by Python's datetime.isoformat for the same inputs).

import assert from "node:assert/strict";
import { test } from "node:test";

import { epochSeconds, formatInstant, parseInstant, utcIso } from "../src/times.js";

test("a stored UTC time is served unchanged, microseconds included", () => {
  assert.equal(utcIso("2026-11-30T09:15:02.123456+00:00"), "2026-11-30T09:15:02.123456+00:00");
  assert.equal(utcIso("2026-12-03T18:00:00+00:00"), "2026-12-03T18:00:00+00:00");
});

test("a zero fraction is left out and a short one is padded, as isoformat does", () => {
  assert.equal(utcIso("2026-11-30T09:15:02.000000+00:00"), "2026-11-30T09:15:02+00:00");
  assert.equal(utcIso("2026-11-10T08:00:00.5+00:00"), "2026-11-10T08:00:00.500000+00:00");
});

test("another offset or Z is served as the same instant in UTC", () => {
  assert.equal(utcIso("2026-11-30T10:15:02.5+02:00"), "2026-11-30T08:15:02.500000+00:00");
  assert.equal(utcIso("2026-01-01T00:00:00.000001Z"), "2026-01-01T00:00:00.000001+00:00");
});

test("creation times score the by-recipient index in seconds, as Python's timestamp()", () => {
  assert.equal(epochSeconds(parseInstant("2026-11-30T09:15:02.123456+00:00")), 1796030102.123456);
});

test("a JavaScript date is written with microseconds", () => {
  assert.equal(formatInstant({ epochMs: Date.UTC(2026, 0, 2, 10, 0, 0, 42), microRemainder: 0 }), "2026-01-02T10:00:00.042000+00:00");
});

test("what is not an ISO-8601 time is refused", () => {
  assert.throws(() => parseInstant("yesterday"), /not an ISO-8601 time/);
});
