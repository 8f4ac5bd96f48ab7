// Strict JSON (RFC 8259) as chain/ reads entries: one value, no duplicate
// member names at any depth, no byte order mark; JSON.parse alone accepts
// duplicates (the last wins), so the browser and the gateway could read one
// payload two ways. The scan checks the grammar and the duplicates; JSON.parse
// then builds the value. Members of the top-level object whose value is, or
// holds at any depth, a number written with a fraction or an exponent are
// reported, because chain/ reads `1.0` as a float where JSON.parse gives the
// integer 1.

import { VerifyError } from "./bytes.js";

const WS = /[ \t\n\r]*/y;
const STRING = /"(?:[^"\\\u0000-\u001f]|\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4})*"/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const LITERAL = /true|false|null/y;
const MAX_DEPTH = 64;

function scanner(text, what) {
  let at = 0;
  const fail = (expected) => {
    throw new VerifyError(`${what}: expected ${expected} at character ${at}`);
  };
  const match = (re) => {
    re.lastIndex = at;
    const found = re.exec(text);
    if (found) at = re.lastIndex;
    return found;
  };
  const skip = () => match(WS);
  const floats = new Set();
  let top; // the member of the top-level object being scanned

  function value(depth) {
    skip();
    const c = text[at];
    if (c === "{" || c === "[") {
      if (depth >= MAX_DEPTH) fail(`at most ${MAX_DEPTH} levels of nesting`);
      at += 1;
      if (c === "{") object(depth + 1);
      else array(depth + 1);
    } else if (c === '"') {
      if (!match(STRING)) fail("a valid string");
    } else {
      const number = match(NUMBER);
      if (number) {
        if ((number[1] || number[2]) && top !== undefined) floats.add(top);
      } else if (!match(LITERAL)) {
        fail("a JSON value");
      }
    }
    skip();
  }

  function object(depth) {
    const names = new Set();
    skip();
    if (text[at] === "}") {
      at += 1;
      return;
    }
    for (;;) {
      skip();
      const raw = match(STRING);
      if (!raw) fail("a member name");
      const name = JSON.parse(raw[0]);
      if (names.has(name)) {
        throw new VerifyError(`${what}: expected unique member names, found "${name}" twice`);
      }
      names.add(name);
      skip();
      if (text[at] !== ":") fail("':'");
      at += 1;
      if (depth === 1) top = name;
      value(depth);
      if (text[at] === "}") {
        at += 1;
        return;
      }
      if (text[at] !== ",") fail("',' or '}'");
      at += 1;
    }
  }

  function array(depth) {
    skip();
    if (text[at] === "]") {
      at += 1;
      return;
    }
    for (;;) {
      value(depth);
      if (text[at] === "]") {
        at += 1;
        return;
      }
      if (text[at] !== ",") fail("',' or ']'");
      at += 1;
    }
  }

  return {
    run() {
      value(0);
      if (at !== text.length) fail("the end of the text");
      return floats;
    },
  };
}

/**
 * Parse `text` as one strict JSON object; return {value, floats}: the object,
 * and the names of its members whose numbers (at any depth) have a fraction
 * or an exponent.
 * Throws a VerifyError naming `what` otherwise.
 */
export function parseStrictObject(text, what) {
  const floats = scanner(text, what).run();
  const value = JSON.parse(text);
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new VerifyError(`${what}: expected a JSON object`);
  }
  return { value, floats };
}
