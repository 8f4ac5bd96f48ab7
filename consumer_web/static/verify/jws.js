// Farmtrace entries: JWS compact serialisations (RFC 7515) signed with EdDSA /
// Ed25519 (RFC 8037), header exactly {"alg":"EdDSA","kid":"<signer id>"}:
//
//   base64url(header) "." base64url(payload) "." base64url(64-byte signature)
//
// The signature covers the ASCII bytes "base64url(header).base64url(payload)".

import { VerifyError, b64urlDecode, ed25519Verify, fromUtf8, utf8 } from "./bytes.js";
import { parseStrictObject } from "./json.js";
import { checkPayload } from "./payload.js";

export const MAX_ENTRY_BYTES = 4096;
export const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const COMPACT = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;
// design.md section 2 (v2): the header is exactly these bytes, as chain/jws.py demands.
const HEADER = /^\{"alg":"EdDSA","kid":"([A-Za-z0-9][A-Za-z0-9._-]{0,63})"\}$/;

/**
 * Parse compact JWS `text` without checking its signature; return
 * {kid, payload (the JSON object), signingInput (bytes), signature (bytes)}.
 * The header must be exactly the bytes {"alg":"EdDSA","kid":"<signer id>"}
 * (this member order, no white space, no escapes); the payload strict JSON
 * that follows the rules of payload.js.
 */
export function parseCompact(text) {
  if (typeof text !== "string" || text.length > MAX_ENTRY_BYTES) {
    throw new VerifyError(`entry: expected at most ${MAX_ENTRY_BYTES} ASCII characters`);
  }
  const parts = COMPACT.exec(text);
  if (!parts) throw new VerifyError("entry: expected three base64url parts joined by '.'");
  const [, header64, payload64, signature64] = parts;
  const headerText = fromUtf8(b64urlDecode(header64, "entry header"), "entry header");
  const kid = parseHeader(headerText);
  const payloadText = fromUtf8(b64urlDecode(payload64, "entry payload"), "entry payload");
  const { value: payload, floats } = parseStrictObject(payloadText, "entry payload");
  checkPayload(payload, floats, kid);
  const signature = b64urlDecode(signature64, "entry signature");
  if (signature.length !== 64) {
    throw new VerifyError(`entry signature: expected 64 bytes, found ${signature.length}`);
  }
  return { kid, payload, signingInput: utf8(`${header64}.${payload64}`), signature };
}

function parseHeader(text) {
  const found = HEADER.exec(text);
  if (!found) {
    throw new VerifyError('entry header: expected exactly {"alg":"EdDSA","kid":"<signer id>"}', {
      expected: '{"alg":"EdDSA","kid":"<signer id>"}',
      calculated: text,
    });
  }
  return found[1];
}

/** True if the parsed entry's signature verifies with the raw Ed25519 `publicKey`. */
export function verifyCompact(parsed, publicKey) {
  return ed25519Verify(publicKey, parsed.signature, parsed.signingInput);
}
