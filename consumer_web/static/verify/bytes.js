// Byte helpers for the in-browser verifier: strict base64 codecs, hex, UTF-8,
// and the two WebCrypto primitives it needs (SHA-256 and Ed25519).
//
// Every failure of a check is a VerifyError; `expected` and `calculated`
// (bytes or strings) say what differed, when there are two values to compare.

export class VerifyError extends Error {
  constructor(message, { expected, calculated } = {}) {
    super(message);
    this.name = "VerifyError";
    this.expected = expected;
    this.calculated = calculated;
  }
}

const STD_B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URL_B64 = /^[A-Za-z0-9_-]*$/;

export function b64encode(bytes) {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Decode padded standard base64 (RFC 4648 section 4), canonical form only. */
export function b64decode(text, what = "base64") {
  if (typeof text !== "string" || !STD_B64.test(text)) {
    throw new VerifyError(`${what}: expected padded standard base64`);
  }
  const bytes = Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  if (b64encode(bytes) !== text) {
    throw new VerifyError(`${what}: non-canonical base64 (unused bits set)`);
  }
  return bytes;
}

/** Decode unpadded base64url (RFC 7515 section 2), canonical form only. */
export function b64urlDecode(text, what = "base64url") {
  if (typeof text !== "string" || !URL_B64.test(text) || text.length % 4 === 1) {
    throw new VerifyError(`${what}: expected unpadded base64url`);
  }
  const padding = "==".slice(0, (4 - (text.length % 4)) % 4);
  return b64decode(text.replaceAll("-", "+").replaceAll("_", "/") + padding, what);
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export function fromHex(text, what = "hex") {
  if (typeof text !== "string" || !/^(?:[0-9a-f]{2})*$/.test(text)) {
    throw new VerifyError(`${what}: expected lowercase hex digits`);
  }
  return Uint8Array.from(text.match(/../g) ?? [], (pair) => parseInt(pair, 16));
}

export function utf8(text) {
  return new TextEncoder().encode(text);
}

/** Decode strict UTF-8 (a malformed sequence throws). */
export function fromUtf8(bytes, what = "text") {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new VerifyError(`${what}: expected UTF-8`);
  }
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function equal(a, b) {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

function subtle() {
  const api = globalThis.crypto?.subtle;
  if (!api) {
    throw new VerifyError("this browser offers no WebCrypto here (the page must use HTTPS)");
  }
  return api;
}

// RFC 8032 section 7.1, test 1: a valid public key, to probe for Ed25519 support.
const PROBE_KEY = Uint8Array.from(
  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a".match(/../g),
  (pair) => parseInt(pair, 16),
);
let support;

/** Resolves to true if this browser, here, offers WebCrypto with SHA-256 and Ed25519. */
export function webCryptoSupported() {
  support ??= (async () => {
    try {
      await subtle().importKey("raw", PROBE_KEY, { name: "Ed25519" }, false, ["verify"]);
      await subtle().digest("SHA-256", new Uint8Array());
      return true;
    } catch {
      return false;
    }
  })();
  return support;
}

export async function sha256(bytes) {
  return new Uint8Array(await subtle().digest("SHA-256", bytes));
}

/** True if `signature` is a valid Ed25519 signature of `message` by raw 32-byte `publicKey`. */
export async function ed25519Verify(publicKey, signature, message) {
  if (publicKey.length !== 32) {
    throw new VerifyError(`Ed25519 key: expected 32 bytes, found ${publicKey.length}`);
  }
  if (signature.length !== 64) return false;
  let key;
  try {
    key = await subtle().importKey("raw", publicKey, { name: "Ed25519" }, false, ["verify"]);
  } catch (error) {
    throw new VerifyError(`Ed25519 key ${b64encode(publicKey)} is unusable: ${error.message}`);
  }
  return subtle().verify({ name: "Ed25519" }, key, signature, message);
}
