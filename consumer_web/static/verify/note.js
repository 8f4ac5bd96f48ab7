// C2SP signed notes (c2sp.org/signed-note), verifier keys, checkpoints
// (c2sp.org/tlog-checkpoint) and witness cosignatures (c2sp.org/tlog-cosignature).
//
//   verifier key  <name>+<8 hex key ID>+<base64(type || 32-byte Ed25519 key)>
//   key ID        SHA-256(name || "\n" || type || key)[:4], big-endian
//   note          <text ending in "\n"> "\n" <signature lines>
//   signature     "— <name> <base64(key ID || signature)>\n"
//   checkpoint    text lines: origin, tree size (decimal), base64 root hash, extensions

import {
  VerifyError,
  b64decode,
  concat,
  ed25519Verify,
  hex,
  sha256,
  utf8,
} from "./bytes.js";

export const ED25519 = 0x01;
export const COSIGNATURE_V1 = 0x04;

const NAME = /^[^\s+]+$/u;
const CONTROL = /[\x00-\x09\x0b-\x1f]/;
const SIZE = /^(?:0|[1-9][0-9]{0,19})$/;
const SIG_PREFIX = "\u2014 ";

export async function keyId(name, type, key) {
  const digest = await sha256(concat(utf8(`${name}\n`), Uint8Array.of(type), key));
  return new DataView(digest.buffer).getUint32(0);
}

/** Parse a verifier key string; its key ID must be the one its name, type and key imply. */
export async function parseVerifierKey(text) {
  const what = `verifier key ${String(text).slice(0, 60)}`;
  const [name, id, encoded] = splitKey(text);
  if (!NAME.test(name) || !/^[0-9a-fA-F]{8}$/.test(id)) {
    throw new VerifyError(`${what}: expected <name>+<8 hex digits>+<base64>`);
  }
  const raw = b64decode(encoded, what);
  const type = raw[0];
  const key = raw.slice(1);
  if ((type !== ED25519 && type !== COSIGNATURE_V1) || key.length !== 32) {
    throw new VerifyError(`${what}: expected an Ed25519 or cosignature/v1 key of 32 bytes`);
  }
  const declared = parseInt(id, 16);
  const calculated = await keyId(name, type, key);
  if (declared !== calculated) {
    throw new VerifyError(`${what}: the key ID is not the key's`, {
      expected: hex8(declared),
      calculated: hex8(calculated),
    });
  }
  return { name, keyId: declared, type, key, text };
}

function splitKey(text) {
  const first = typeof text === "string" ? text.indexOf("+") : -1;
  const second = first < 0 ? -1 : text.indexOf("+", first + 1);
  if (second < 0) return ["", "", ""];
  return [text.slice(0, first), text.slice(first + 1, second), text.slice(second + 1)];
}

export const hex8 = (id) => id.toString(16).padStart(8, "0");

/** Split a signed note into its text and signature lines (no signature is checked). */
export function parseNote(note) {
  if (typeof note !== "string" || CONTROL.test(note)) {
    throw new VerifyError("note: expected text without control characters but newline");
  }
  const split = note.lastIndexOf("\n\n");
  if (split < 0 || !note.endsWith("\n")) {
    throw new VerifyError("note: expected text, a blank line and signature lines");
  }
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  const signatures = lines.map((line) => {
    const space = line.indexOf(" ", SIG_PREFIX.length);
    const name = line.slice(SIG_PREFIX.length, space);
    if (!line.startsWith(SIG_PREFIX) || space < 0 || !NAME.test(name)) {
      throw new VerifyError(`note: expected "— <name> <base64>", found ${line.slice(0, 40)}`);
    }
    const raw = b64decode(line.slice(space + 1), `signature of ${name}`);
    if (raw.length < 5) throw new VerifyError(`signature of ${name}: expected 5 bytes or more`);
    return { name, keyId: new DataView(raw.buffer).getUint32(0), signature: raw.slice(4) };
  });
  return { text, signatures };
}

/** Parse checkpoint note text into {origin, size, root, extensions}. */
export function parseCheckpoint(text) {
  const [origin, size, root, ...extensions] = text.slice(0, -1).split("\n");
  if (!origin || root === undefined || extensions.some((line) => !line)) {
    throw new VerifyError("checkpoint: expected origin, size and root lines");
  }
  if (!SIZE.test(size) || !Number.isSafeInteger(Number(size))) {
    throw new VerifyError(`checkpoint size: expected a decimal tree size, found ${size}`);
  }
  const rootHash = b64decode(root, "checkpoint root hash");
  if (rootHash.length !== 32) throw new VerifyError("checkpoint root hash: expected 32 bytes");
  return { origin, size: Number(size), root: rootHash, extensions };
}

/** Verify the first signature by `vkey` (a parsed key) on parsed note `note`; return it. */
async function checkSignedBy(note, vkey) {
  const line = note.signatures.find((s) => s.name === vkey.name && s.keyId === vkey.keyId);
  if (!line) return null;
  let message = utf8(note.text);
  let signature = line.signature;
  let timestamp = null;
  if (vkey.type === COSIGNATURE_V1) {
    if (signature.length !== 72) return { line, valid: false };
    timestamp = new DataView(signature.buffer, signature.byteOffset).getBigUint64(0);
    if (timestamp >= 2n ** 63n) return { line, valid: false };
    message = concat(utf8(`cosignature/v1\ntime ${timestamp}\n`), message);
    signature = signature.slice(8);
  }
  const valid = await ed25519Verify(vkey.key, signature, message);
  return { line, valid, timestamp };
}

/**
 * Return the checkpoint in `signedNote` once the log key `vkeyText` (type 0x01,
 * named after the origin) has verifiably signed it; other signatures are ignored.
 */
export async function openCheckpoint(signedNote, vkeyText) {
  const vkey = await parseVerifierKey(vkeyText);
  if (vkey.type !== ED25519) throw new VerifyError("log key: expected an Ed25519 (0x01) key");
  const note = parseNote(signedNote);
  const checkpoint = parseCheckpoint(note.text);
  if (checkpoint.origin !== vkey.name) {
    throw new VerifyError("checkpoint origin is not the log key's name", {
      expected: vkey.name,
      calculated: checkpoint.origin,
    });
  }
  const found = await checkSignedBy(note, vkey);
  if (!found) {
    throw new VerifyError("the checkpoint is not signed by the log key", {
      expected: `${vkey.name}+${hex8(vkey.keyId)}`,
      calculated: note.signatures.map((s) => `${s.name}+${hex8(s.keyId)}`).join(", "),
    });
  }
  if (!found.valid) {
    throw new VerifyError(`the log key's signature (${vkey.name}+${hex8(vkey.keyId)}) is invalid`);
  }
  return { ...checkpoint, keyId: hex8(vkey.keyId) };
}

/**
 * Return, for each witness (cosignature/v1 verifier key strings, in order),
 * {name, key: "<name>+<key ID>", status, timestamp}: status "ok" (its
 * cosignature on `signedNote` verifies; timestamp in POSIX seconds),
 * "invalid" (a line by its key that does not verify) or "absent".
 * Throws if a key is malformed or not a cosignature/v1 key, or if one key is
 * listed twice (under any names: it would count twice toward a quorum).
 */
export async function checkCosignatures(signedNote, witnessKeys) {
  const note = parseNote(signedNote);
  const results = [];
  const named = new Map(); // one key counts once, whatever its names (design.md section 3)
  for (const text of witnessKeys) {
    const vkey = await parseVerifierKey(text);
    if (vkey.type !== COSIGNATURE_V1) {
      throw new VerifyError(`witness key ${vkey.name}: expected a cosignature/v1 (0x04) key`);
    }
    const raw = hex(vkey.key);
    if (named.has(raw)) {
      const both = `${named.get(raw)} and ${vkey.name}`;
      throw new VerifyError(`witness keys: one key listed under both ${both}`, {
        expected: "distinct witness keys",
        calculated: `${both} share a key`,
      });
    }
    named.set(raw, vkey.name);
    const found = await checkSignedBy(note, vkey);
    const status = !found ? "absent" : found.valid ? "ok" : "invalid";
    const timestamp = status === "ok" ? Number(found.timestamp) : null;
    results.push({ name: vkey.name, key: `${vkey.name}+${hex8(vkey.keyId)}`, status, timestamp });
  }
  return results;
}

/**
 * Return [{name, timestamp}] for each witness (cosignature/v1 verifier key
 * strings) that cosigned `signedNote`; throws if a listed witness's
 * cosignature does not verify.
 */
export async function verifyCosignatures(signedNote, witnessKeys) {
  const results = await checkCosignatures(signedNote, witnessKeys);
  const bad = results.find((r) => r.status === "invalid");
  if (bad) throw new VerifyError(`the cosignature of witness ${bad.name} is invalid`);
  return results
    .filter((r) => r.status === "ok")
    .map(({ name, timestamp }) => ({ name, timestamp }));
}
