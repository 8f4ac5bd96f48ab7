// Farmtrace entries: JWS compact serialisations (RFC 7515) signed with EdDSA /
// Ed25519 (RFC 8037), header exactly {"alg":"EdDSA","kid":"<signer id>"}:
//
//   base64url(header) "." base64url(payload) "." base64url(64-byte signature)
//
// The signature covers the ASCII bytes "base64url(header).base64url(payload)".

import { VerifyError, b64urlDecode, ed25519Verify, fromUtf8, utf8 } from "./bytes.js";

export const MAX_ENTRY_BYTES = 4096;
export const ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const COMPACT = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)$/;

/**
 * Parse compact JWS `text` without checking its signature; return
 * {kid, payload (the JSON object), signingInput (bytes), signature (bytes)}.
 * The header must be one of the two member orders of {"alg":"EdDSA","kid":...},
 * JSON white space allowed (no escapes, no other member).
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
  let payload;
  try {
    payload = JSON.parse(payloadText);
  } catch {
    throw new VerifyError("entry payload: expected JSON");
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw new VerifyError("entry payload: expected a JSON object");
  }
  const signature = b64urlDecode(signature64, "entry signature");
  if (signature.length !== 64) {
    throw new VerifyError(`entry signature: expected 64 bytes, found ${signature.length}`);
  }
  return { kid, payload, signingInput: utf8(`${header64}.${payload64}`), signature };
}

function parseHeader(text) {
  let header;
  try {
    header = JSON.parse(text);
  } catch {
    throw new VerifyError("entry header: expected JSON");
  }
  const kid = header?.kid;
  const compact = text.replace(/[ \t\n\r]/g, "");
  const forms = [
    `{"alg":"EdDSA","kid":${JSON.stringify(kid)}}`,
    `{"kid":${JSON.stringify(kid)},"alg":"EdDSA"}`,
  ];
  if (typeof kid !== "string" || !ID.test(kid) || !forms.includes(compact)) {
    throw new VerifyError('entry header: expected exactly {"alg":"EdDSA","kid":"<signer id>"}', {
      expected: forms[0],
      calculated: text,
    });
  }
  return kid;
}

/** True if the parsed entry's signature verifies with the raw Ed25519 `publicKey`. */
export function verifyCompact(parsed, publicKey) {
  return ed25519Verify(publicKey, parsed.signature, parsed.signingInput);
}
