// The rules every entry payload follows, as chain/entries.py checks them
// (design.md section 2): a known type, the signer's seq (1, 2, 3 ...) and ts
// (milliseconds since the epoch), both integers below 2**53, and a reading's
// dev equal to the header's kid. The members of each type and event kind are
// checked by the gateway and the audit; these rules are the ones the
// in-browser verifier needs to read an entry the way they do.

import { VerifyError } from "./bytes.js";

export const ENTRY_TYPES = ["reading", "event", "device", "operator"];

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
  if (payload.type === "reading" && payload.dev !== kid) {
    throw new VerifyError("entry payload dev: expected the signer's kid", {
      expected: kid,
      calculated: JSON.stringify(payload.dev),
    });
  }
}
