// Times as the delivery store holds and serves them: ISO-8601 strings in UTC written
// `2026-11-30T09:15:02.123456+00:00`, with no fraction when it is zero. That is how the
// Python implementation writes them (datetime.isoformat), so either implementation reads
// what the other wrote and serves the same bytes. JavaScript dates stop at milliseconds:
// a stored time is therefore kept as parsed parts, never round-tripped through a Date.

export interface Instant {
  /** Whole milliseconds since the epoch. */
  readonly epochMs: number;
  /** Microseconds within that millisecond, 0 to 999. */
  readonly microRemainder: number;
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:\d{2})?$/;

export function parseInstant(text: string): Instant {
  const match = ISO.exec(text);
  if (match === null) throw new Error(`not an ISO-8601 time: ${JSON.stringify(text)}`);
  const [, year, month, day, hour, minute, second, fraction = "", offset = "Z"] = match;
  const micros = Number(fraction.padEnd(6, "0"));
  const offsetMinutes = offset === "Z" ? 0 : offsetToMinutes(offset);
  const wallMs = Date.UTC(
    Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second),
  );
  return {
    epochMs: wallMs - offsetMinutes * 60_000 + Math.floor(micros / 1000),
    microRemainder: micros % 1000,
  };
}

export function instantOf(date: Date): Instant {
  return { epochMs: date.getTime(), microRemainder: 0 };
}

export function now(): Instant {
  return instantOf(new Date());
}

export function formatInstant(instant: Instant): string {
  const date = new Date(instant.epochMs);
  const micros = date.getUTCMilliseconds() * 1000 + instant.microRemainder;
  const whole = date.toISOString().slice(0, 19);
  return micros === 0 ? `${whole}+00:00` : `${whole}.${String(micros).padStart(6, "0")}+00:00`;
}

/** A stored time as served: the same instant in UTC, written as above. */
export function utcIso(text: string): string {
  return formatInstant(parseInstant(text));
}

/** Seconds since the epoch, as the by-recipient index scores creation times. */
export function epochSeconds(instant: Instant): number {
  return instant.epochMs / 1000 + instant.microRemainder / 1_000_000;
}

function offsetToMinutes(offset: string): number {
  const sign = offset.startsWith("-") ? -1 : 1;
  const [hours = "0", minutes = "0"] = offset.slice(1).split(":");
  return sign * (Number(hours) * 60 + Number(minutes));
}
