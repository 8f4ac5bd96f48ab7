// The rules every entry payload follows, as chain/entries.py checks them
// (design.md section 2): a known type, the signer's seq (1, 2, 3 ...) and ts
// (milliseconds since the epoch), both integers below 2**53, and a reading's
// dev equal to the header's kid, its unit one of its kind's and its value in
// its kind's range (readings.js), and a gap's skipped range (its dev is the
// kid, from <= to < seq) as chain/_payloads.py checks them. Of the event
// members, the dates and periods a page shows: a packed event's best_before
// (a calendar date YYYY-MM-DD, not before its packing day in the earliest
// time zone, UTC-12) and a treated event's withdrawal_days (an integer in
// [0, 1000]). The other members of each type and event kind are checked by
// the gateway and the audit; these rules are the ones the in-browser verifier
// needs to read an entry the way they do.

import { VerifyError } from "./bytes.js";
import { KIND_UNITS, SENML_UNITS, VALUE_RANGES } from "./readings.js";

export const ENTRY_TYPES = ["reading", "event", "device", "operator", "gap"];
export const WITHDRAWAL_DAYS_MAX = 1000;
const EARLIEST_OFFSET_MS = 12 * 3_600_000;
const ISO_DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;

function integer(payload, floats, name, lowest) {
  const value = payload[name];
  if (!Number.isSafeInteger(value) || value < lowest || floats.has(name)) {
    throw new VerifyError(`entry payload ${name}: expected an integer in [${lowest}, 2**53)`, {
      expected: `an integer in [${lowest}, 2**53)`,
      calculated: JSON.stringify(value),
    });
  }
}

/**
 * Check `payload` (from parseStrictObject, with its `floats`) of an entry
 * signed as `kid`; throw a VerifyError naming the member that breaks a rule.
 */
export function checkPayload(payload, floats, kid) {
  if (!ENTRY_TYPES.includes(payload.type)) {
    throw new VerifyError(`entry payload type: expected one of ${ENTRY_TYPES.join(", ")}`, {
      expected: ENTRY_TYPES.join(", "),
      calculated: JSON.stringify(payload.type),
    });
  }
  integer(payload, floats, "seq", 1);
  integer(payload, floats, "ts", 0);
  if ((payload.type === "reading" || payload.type === "gap") && payload.dev !== kid) {
    throw new VerifyError("entry payload dev: expected the signer's kid", {
      expected: kid,
      calculated: JSON.stringify(payload.dev),
    });
  }
  if (payload.type === "reading") checkReadingValue(payload);
  if (payload.type === "event") checkEventDates(payload, floats);
  if (payload.type === "gap") {
    integer(payload, floats, "from", 1);
    integer(payload, floats, "to", 1);
    if (!(payload.from <= payload.to && payload.to < payload.seq)) {
      throw new VerifyError("entry payload from, to: expected from <= to < seq", {
        expected: `from <= to < ${payload.seq}`,
        calculated: `from ${payload.from}, to ${payload.to}`,
      });
    }
  }
}

function inRange(value, unit, range) {
  const scale = unit === "g" ? 1000 : 1;
  if (range.whole && !Number.isInteger(value)) return false;
  const low = range.low * scale;
  if (value < low || (range.aboveLow && value === low)) return false;
  return range.high === null || value <= range.high * scale;
}

/** A reading's unit must be one of its kind's, and its value in its kind's range. */
function checkReadingValue(payload) {
  const { kind, unit, value } = payload;
  const units = Object.hasOwn(KIND_UNITS, kind) ? KIND_UNITS[kind] : SENML_UNITS;
  if (!SENML_UNITS.includes(unit) || !units.includes(unit)) {
    throw new VerifyError(`entry payload unit: expected a unit for kind ${kind}`, {
      expected: units.join(", "),
      calculated: JSON.stringify(unit),
    });
  }
  if (typeof value !== "number") {
    throw new VerifyError("entry payload value: expected a number", {
      expected: "a number",
      calculated: JSON.stringify(value),
    });
  }
  const range = Object.hasOwn(VALUE_RANGES, kind) ? VALUE_RANGES[kind] : null;
  if (range && !inRange(value, unit, range)) {
    const scale = unit === "g" ? 1000 : 1;
    const high = range.high === null ? "" : `, ${range.high * scale}`;
    throw new VerifyError(`entry payload value: out of the range of kind ${kind}`, {
      expected: `${range.whole ? "a whole number" : "a number"} from ${range.low * scale}${high} ${unit}`,
      calculated: JSON.stringify(value),
    });
  }
}

/** Whether `text` is a calendar date YYYY-MM-DD (year 0001 to 9999) that exists. */
function isCalendarDate(text) {
  if (typeof text !== "string" || !ISO_DATE.test(text)) return false;
  const [year, month, day] = text.split("-").map(Number);
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day); // Date.UTC would read year 50 as 1950
  return (
    year >= 1 &&
    date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day
  );
}

/** The earliest calendar date any time zone gives the instant `ts` (chain's packing_day). */
export function packingDay(ts) {
  return new Date(ts - EARLIEST_OFFSET_MS).toISOString().slice(0, 10);
}

/** A packed event's best-before date, a treated event's withdrawal period. */
function checkEventDates(payload, floats) {
  if (payload.event === "packed" && Object.hasOwn(payload, "best_before")) {
    const bestBefore = payload.best_before;
    if (!isCalendarDate(bestBefore)) {
      throw new VerifyError("entry payload best_before: expected a calendar date YYYY-MM-DD", {
        expected: "a calendar date YYYY-MM-DD (ISO 8601)",
        calculated: JSON.stringify(bestBefore),
      });
    }
    const packed = packingDay(payload.ts);
    if (bestBefore < packed) {
      throw new VerifyError("entry payload best_before: expected a date on or after packing", {
        expected: `${packed} or later`,
        calculated: JSON.stringify(bestBefore),
      });
    }
  }
  if (payload.event === "treated" && Object.hasOwn(payload, "withdrawal_days")) {
    const days = payload.withdrawal_days;
    if (
      !Number.isSafeInteger(days) ||
      days < 0 ||
      days > WITHDRAWAL_DAYS_MAX ||
      floats.has("withdrawal_days")
    ) {
      throw new VerifyError("entry payload withdrawal_days: expected an integer in [0, 1000]", {
        expected: `an integer in [0, ${WITHDRAWAL_DAYS_MAX}]`,
        calculated: JSON.stringify(days),
      });
    }
  }
}
