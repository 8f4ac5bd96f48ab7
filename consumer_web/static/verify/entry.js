// Verifying one log entry in the browser, from the site's read API alone:
// the checkpoint's log signature and witness cosignatures (at least the
// site's quorum of its listed witnesses must have cosigned), the block header,
// the block's inclusion in the log, the entry's inclusion in its block, the
// signer's registration, and the entry's own signature.
//
// Every check runs, so that the result names each one that failed; a check
// that depends on a failed one fails too, saying why.

import { VerifyError, hex } from "./bytes.js";
import { checkBlockInclusion, checkEntryInclusion, checkHeader, decodeProof } from "./bundle.js";
import { parseCompact, verifyCompact } from "./jws.js";
import {
  checkCosignatures,
  hex8,
  openCheckpoint,
  parseCheckpoint,
  parseNote,
  parseVerifierKey,
} from "./note.js";
import { checkAllowed, signingKey } from "./signer.js";

/** The checks, in the order they run and are reported. */
export const CHECKS = [
  "checkpoint",
  "witnesses",
  "block-header",
  "block-inclusion",
  "entry-inclusion",
  "signer",
  "entry-signature",
];

/**
 * A read API client: `get(path)` resolves to the JSON body of `<base><path>`,
 * or to null on a 404 when `missingOk`; it throws a VerifyError otherwise.
 * Responses are cached for the client's lifetime (one verification).
 */
export function readApi(base = "/api/v1", fetchImpl = (...a) => globalThis.fetch(...a)) {
  const cache = new Map();
  async function fetchJson(path, missingOk) {
    const url = `${base}${path}`;
    let response;
    try {
      response = await fetchImpl(url, { headers: { Accept: "application/json" } });
    } catch (error) {
      throw new VerifyError(`${url}: unreachable (${error.message})`);
    }
    if (response.status === 404 && missingOk) return null;
    const body = await response.json().catch(() => undefined);
    if (!response.ok) {
      throw new VerifyError(`${url}: HTTP ${response.status} ${body?.error ?? ""}`.trim());
    }
    if (body === undefined) throw new VerifyError(`${url}: expected JSON`);
    return body;
  }
  return {
    get(path, { missingOk = false } = {}) {
      const key = `${missingOk} ${path}`;
      if (!cache.has(key)) cache.set(key, fetchJson(path, missingOk));
      return cache.get(key);
    },
  };
}

function asText(value) {
  if (value instanceof Uint8Array) return hex(value);
  return value === undefined ? undefined : String(value);
}

function failure(id, error) {
  return {
    id,
    ok: false,
    message: error instanceof VerifyError ? error.message : `unexpected error: ${error}`,
    expected: asText(error.expected),
    calculated: asText(error.calculated),
    detail: error.detail,
  };
}

const isCount = (value) => Number.isSafeInteger(value) && value >= 0;

function decodeLog(json) {
  const ok =
    typeof json?.origin === "string" &&
    typeof json.vkey === "string" &&
    (json.witnesses === undefined || Array.isArray(json.witnesses)) &&
    (json.quorum === undefined || isCount(json.quorum)) &&
    (json.admins === undefined || (typeof json.admins === "object" && json.admins !== null));
  if (!ok) throw new VerifyError("/log: expected origin, vkey, witnesses, quorum and admins");
  const { origin, vkey, witnesses = [], quorum, admins = {} } = json;
  return { origin, vkey, witnesses, quorum, admins };
}

const LABEL_KEY = /^[0-9a-f]{8}$/;

/**
 * The log as the verifier trusts it: the site's /log, except what `anchors`
 * pins ({origin, vkey, witnesses, quorum}, e.g. from a witness's anchors.json).
 * Throws a VerifyError if the site's log is not the anchored one.
 */
function anchoredLog(log, anchors) {
  if (!anchors) return { ...log, pinnedBy: null };
  for (const name of ["origin", "vkey"]) {
    if (log[name] !== anchors[name]) {
      throw new VerifyError(`the site's log ${name} is not the one ${anchors.source} follows`, {
        expected: anchors[name],
        calculated: log[name],
      });
    }
  }
  const { witnesses, quorum } = anchors;
  return { ...log, witnesses, quorum, pinnedBy: anchors.source };
}

/**
 * The label check: `labelKey` (8 lowercase hex digits from the label's `lk`,
 * or null when the label has none) must be the key ID of `vkey`. Resolves to
 * the words for the checkpoint check; throws a VerifyError on a mismatch.
 */
async function checkLabelKey(vkey, labelKey) {
  const parsed = await parseVerifierKey(vkey);
  const id = hex8(parsed.keyId);
  if (labelKey === null || labelKey === undefined) return `log key ${id}, not pinned by the label`;
  if (!LABEL_KEY.test(labelKey) || labelKey !== id) {
    throw new VerifyError("the log key is not the one the label names", {
      expected: `log key ${String(labelKey).slice(0, 16)} (printed on the label)`,
      calculated: `log key ${id} (served by the site)`,
    });
  }
  return `log key ${id}, as the label names`;
}

/**
 * The witnesses check: each listed witness's cosignature that is present
 * must verify, and at least `quorum` of them must be present. The detail
 * ({outcome: "ok" | "short" | "invalid", count, total, quorum, names}) lets
 * the page word the outcome in its own language.
 */
async function checkWitnesses(signedNote, witnesses, quorum) {
  const results = await checkCosignatures(signedNote, witnesses);
  const cosigned = results.filter((r) => r.status === "ok");
  const names = cosigned.map((r) => r.name).join(", ");
  const detail = { count: cosigned.length, total: witnesses.length, quorum, names: names || "—" };
  const bad = results.filter((r) => r.status === "invalid");
  detail.outcome = bad.length > 0 ? "invalid" : cosigned.length < quorum ? "short" : "ok";
  if (bad.length > 0) {
    const who = bad.map((r) => r.name).join(", ");
    throw Object.assign(
      new VerifyError(`the cosignature of witness ${who} is invalid`, {
        expected: `a valid cosignature/v1 signature by ${bad.map((r) => r.key).join(", ")}`,
        calculated: "an invalid signature",
      }),
      { detail },
    );
  }
  if (cosigned.length < quorum) {
    const found = `${cosigned.length} (${names || "none"})`;
    throw Object.assign(
      new VerifyError(
        `only ${cosigned.length} of ${witnesses.length} witnesses cosigned, ${quorum} required`,
        { expected: `at least ${quorum} of ${witnesses.length} cosignatures`, calculated: found },
      ),
      { detail },
    );
  }
  const required = quorum > 0 ? ` (${quorum} required)` : "";
  const message = `${cosigned.length} of ${witnesses.length} witnesses cosigned ${names}`;
  return { message: `${message.trim()}${required}`, value: cosigned.length, detail };
}

/**
 * Verify entry `index` through read API client `api` (see readApi).
 * `options.quorum` is how many of the log's witnesses must have cosigned
 * the checkpoint (default: /log's "quorum" if it has one, else 0).
 * `options.labelKey` is the log key ID the pack's label committed to (its
 * Digital Link's `lk`, 8 hex digits): a log signed by another key fails the
 * checkpoint check. `options.anchors` ({origin, vkey, witnesses: [vkey],
 * quorum, source}) pins the log and its witnesses from a source other than the
 * site (a witness's anchors.json): the site's /log must agree with it, and
 * its witnesses and quorum replace the site's.
 * Resolves to {index, ok, checks: [{id, ok, message, expected?, calculated?,
 * detail?}], and what was learnt: kid, type, ts, block, size, witnesses
 * (how many cosigned), quorum, chain}. Never rejects.
 */
export async function verifyEntry(index, api = readApi(), options = {}) {
  const result = { index, ok: false, checks: [] };
  let proof;
  let log;
  try {
    const [proofJson, logJson] = await Promise.all([
      api.get(`/entries/${index}/proof`),
      api.get("/log"),
    ]);
    proof = decodeProof(proofJson, index);
    log = anchoredLog(decodeLog(logJson), options.anchors);
  } catch (error) {
    result.checks.push(failure("proof", error));
    return result;
  }
  const run = async (id, check) => {
    try {
      const { message, value, detail } = await check();
      result.checks.push({ id, ok: true, message, detail });
      return value;
    } catch (error) {
      result.checks.push(failure(id, error));
      return undefined;
    }
  };
  // Inclusion is checked against the checkpoint's root even when its signature
  // fails, so that each defect is reported on its own.
  let body;
  try {
    body = parseCheckpoint(parseNote(proof.checkpoint).text);
  } catch {
    body = undefined;
  }
  result.block = proof.block.height;
  result.size = body?.size;
  await run("checkpoint", async () => {
    const checkpoint = await openCheckpoint(proof.checkpoint, log.vkey);
    if (checkpoint.origin !== log.origin) {
      throw new VerifyError("checkpoint origin is not the log's", {
        expected: log.origin,
        calculated: checkpoint.origin,
      });
    }
    const pinned = await checkLabelKey(log.vkey, options.labelKey ?? null);
    const by = log.pinnedBy ? `; log key and witnesses pinned by ${log.pinnedBy}` : "";
    return { message: `tree of ${checkpoint.size} blocks, signed by the ${pinned}${by}` };
  });
  const quorum = isCount(options.quorum) ? options.quorum : (log.quorum ?? 0);
  result.quorum = quorum;
  result.witnesses = await run("witnesses", () =>
    checkWitnesses(proof.checkpoint, log.witnesses, quorum),
  );
  await run("block-header", async () => ({ message: await checkHeader(proof, log.origin) }));
  await run("block-inclusion", async () => ({ message: await checkBlockInclusion(proof, body) }));
  await run("entry-inclusion", async () => ({ message: await checkEntryInclusion(proof) }));
  let entry;
  try {
    entry = parseCompact(proof.entry);
    Object.assign(result, { kid: entry.kid, type: entry.payload.type, ts: entry.payload.ts });
  } catch (error) {
    entry = error;
  }
  // The signature is checked with the key the signer's registrations give,
  // even when the signer was not allowed to sign this entry.
  let signer;
  await run("signer", async () => {
    if (entry instanceof Error) throw entry;
    if (!body) throw new VerifyError("cannot check: the checkpoint is unreadable");
    const ctx = { api, admins: log.admins, checkpoint: body, origin: log.origin };
    signer = await signingKey(entry, index, ctx);
    result.chain = signer.chain;
    checkAllowed(entry, signer);
    return { message: signer.chain.join("; ") };
  });
  await run("entry-signature", async () => {
    if (entry instanceof Error) throw entry;
    if (!signer) throw new VerifyError(`cannot check: no registered key of ${entry.kid} found`);
    if (!(await verifyCompact(entry, signer.key))) {
      throw new VerifyError(`the signature is not ${entry.kid}'s`, {
        expected: `a valid Ed25519 signature by ${entry.kid}'s registered key`,
        calculated: "an invalid signature",
      });
    }
    return { message: `Ed25519 signature by ${entry.kid}` };
  });
  result.ok = result.checks.every((c) => c.ok);
  return result;
}
