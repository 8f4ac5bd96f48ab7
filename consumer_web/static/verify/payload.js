// The rules every entry payload follows, as chain/entries.py checks them
// (design.md section 2): a known type, the signer's seq (1, 2, 3 ...) and ts
// (milliseconds since the epoch), both integers below 2**53, and a reading's
// dev equal to the header's kid, its unit one of its kind's and its value in
// its kind's range (readings.js), and a gap's skipped range (its dev is the
// kid, from <= to < seq) as chain/_payloads.py checks them. Of the event
// members, the dates and periods a page shows: a packed event's best_before
// (a calendar date YYYY-MM-DD, not before its packing day in the earliest
// time zone, UTC-12) and a treated event's withdrawal_days (an integer in
// [0, 1000]); and an event's cross-log refs (chain/_crosslog_format.py: 1 to
// 8 objects of exactly log, index, hash, size, root and subject, distinct, in
// an event kind that may reference (roles.js REFERABLE), each about one of
// the event's subjects). The other members of each type and event kind are
// checked by the gateway and the audit; these rules are the ones the
// in-browser verifier needs to read an entry the way they do.

import { VerifyError } from "./bytes.js";
import { KIND_UNITS, SENML_UNITS, VALUE_RANGES } from "./readings.js";
import { REFERABLE } from "./roles.js";

export const ENTRY_TYPES = ["reading", "event", "device", "operator", "gap"];
export const WITHDRAWAL_DAYS_MAX = 1000;
const EARLIEST_OFFSET_MS = 12 * 3_600_000;
const ISO_DATE = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
export const MAX_REFS = 8;
const REF_MEMBERS = ["log", "index", "hash", "size", "root", "subject"];
const ORIGIN = /^[!-*,-~]{1,255}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const SUBJECT = /^[a-z][a-z0-9_]{0,31}:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

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
  if (payload.type === "event" && Object.hasOwn(payload, "refs")) checkRefs(payload, floats);
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

function badRef(name, expected, found) {
  throw new VerifyError(`entry payload ${name}: expected ${expected}`, {
    expected,
    calculated: JSON.stringify(found),
  });
}

/** Whether `ref` is one refs item of the exact format (integers checked by the caller). */
export function refProblem(ref) {
  if (ref === null || typeof ref !== "object" || Array.isArray(ref)) return "an object";
  const names = Object.keys(ref).sort();
  if (names.join() !== [...REF_MEMBERS].sort().join()) return `exactly ${REF_MEMBERS.join(", ")}`;
  if (typeof ref.log !== "string" || !ORIGIN.test(ref.log)) return "an origin without space or +";
  if (!Number.isSafeInteger(ref.index) || ref.index < 0) return "index in [0, 2**53)";
  if (!Number.isSafeInteger(ref.size) || ref.size < 1) return "size in [1, 2**53)";
  for (const name of ["hash", "root"]) {
    if (typeof ref[name] !== "string" || !HEX64.test(ref[name])) return `${name}: 64 lowercase hex`;
  }
  if (typeof ref.subject !== "string" || !SUBJECT.test(ref.subject)) return "subject <kind>:<id>";
  return null;
}

/** An event's cross-log references: format, an event kind that may reference, its subjects. */
function checkRefs(payload, floats) {
  const refs = payload.refs;
  if (!Object.hasOwn(REFERABLE, payload.event)) {
    badRef("refs", `no refs in a ${payload.event} event`, refs);
  }
  if (!Array.isArray(refs) || refs.length < 1 || refs.length > MAX_REFS || floats.has("refs")) {
    badRef("refs", `a list of 1 to ${MAX_REFS} references with integer numbers`, refs);
  }
  const seen = new Set();
  refs.forEach((ref, index) => {
    const problem = refProblem(ref);
    if (problem) badRef(`refs[${index}]`, problem, ref);
    const key = JSON.stringify([ref.log, ref.index, ref.subject]);
    if (seen.has(key)) badRef(`refs[${index}]`, "distinct references", ref);
    seen.add(key);
    if (!Array.isArray(payload.subjects) || !payload.subjects.includes(ref.subject)) {
      badRef(`refs[${index}].subject`, "one of the event's subjects", ref.subject);
    }
  });
}
