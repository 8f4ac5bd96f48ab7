// The rules every entry payload follows, as chain/entries.py checks them
// (design.md section 2): a known type, the signer's seq (1, 2, 3 ...) and ts
// (milliseconds since the epoch), both integers below 2**53, and a reading's
// dev equal to the header's kid, its unit one of its kind's and its value in
// its kind's range (readings.js), and a gap's skipped range (its dev is the
// kid, from <= to < seq) as chain/_payloads.py checks them. The members of each type and event kind are
// checked by the gateway and the audit; these rules are the ones the
// in-browser verifier needs to read an entry the way they do.

import { VerifyError } from "./bytes.js";
import { KIND_UNITS, SENML_UNITS, VALUE_RANGES } from "./readings.js";

export const ENTRY_TYPES = ["reading", "event", "device", "operator", "gap"];

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
