// The stitched pack page: each part of a pack's story that another log holds
// is checked again in the browser (verify/crosslog.js), from that log's own
// read API, and marked verified or failed with the reason.
//
// A part is an element with data-ref (one refs item, JSON) and, as
// consumer_web/templates/_stitched.html writes them:
//   data-api-base          the referenced log's read API (/logs/<slug>/api/v1 on
//                          the resolver site; data-log-slug gives it too); empty
//                          when the site does not follow that log
//   data-quorum            how many of that log's witnesses must have cosigned
//                          (the site's pinned policy; default: all it lists)
//   data-referrer-log,     the event that carries the reference: entry <index>
//   data-referrer-index    of the log with that origin, read from the read API
//                          of the part whose data-log-origin it is, else of the
//                          page's own log (#verify-result's data-api-base, or
//                          /api/v1). Its kind, subjects and time are taken from
//                          the entry's own bytes, which must carry the reference
//                          (else the part fails with "referrer_mismatch").
//   data-referrer-api-base the referencing log's read API, when given (a part
//                          downstream: a later holder's event naming an entry
//                          the page shows); it takes precedence over the above.
// The referenced log's key and witnesses are the ones the site pinned, as its
// read API's /log serves them; its origin must be the reference's log. Its
// current checkpoint (GET <mount>/checkpoint) must still cover the reference
// before the entry's proof under it is fetched, as chain's verifiers do.
//
// The outcome goes into the part: data-ref-state ("working", "ok", "fail" or
// "unsupported": no WebCrypto Ed25519 here), data-ref-reason (a crosslog.js
// reason, "ref_unavailable" when the log did not answer, "referrer_mismatch",
// or "error" for a fault of the script itself), and the text of its
// [data-ref-message] child (created when absent). Texts come from attributes
// of the part or of its closest [data-ref-messages] ancestor, so the page's
// language is used: data-msg-ref-working, data-msg-ref-ok (placeholders {log}, {index},
// {cosigners}, {size}), data-msg-ref-fail ({reason}), data-msg-ref-unsupported,
// and data-msg-ref-<reason> (e.g. data-msg-ref-ref-rolled-back) for a reason's
// own words (English defaults only when the page gives no words at all).

import { VerifyError, webCryptoSupported } from "./bytes.js";
import { checkHeadCovers, checkReference } from "./crosslog.js";
import { readApi } from "./entry.js";
import { parseCompact } from "./jws.js";

const DEFAULTS = {
  "data-msg-ref-working": "Checking this part in your browser…",
  "data-msg-ref-ok":
    "Verified in your browser: {log} entry {index}, in its checkpoint of {size}, " +
    "cosigned by {cosigners}.",
  "data-msg-ref-fail": "NOT verified: {reason}.",
  "data-msg-ref-unsupported": "This browser cannot check this part here.",
  "data-msg-ref-ref-entry-mismatch": "NOT verified: that log has another entry there.",
  "data-msg-ref-ref-rolled-back": "NOT verified: that log no longer shows this.",
  "data-msg-ref-ref-unknown-log": "NOT verified: from a log this site does not follow.",
  "data-msg-ref-ref-unavailable": "NOT verified: that log did not show this entry.",
};

const REF_MEMBERS = ["log", "index", "hash", "size", "root", "subject"];

function unavailable(message) {
  return Object.assign(new VerifyError(message), { reason: "ref_unavailable" });
}

function mismatch(message) {
  return Object.assign(new VerifyError(message), { reason: "referrer_mismatch" });
}

/** The referenced log's read API base, or null when the site does not follow that log. */
function refBase(part) {
  const given = part.getAttribute("data-api-base");
  if (given) return given;
  const slug = part.getAttribute("data-log-slug");
  return slug ? `/logs/${encodeURIComponent(slug)}/api/v1` : null;
}

/** The read API base of the log with `origin`: a part's, else the page's own log's. */
function logBase(origin) {
  for (const part of document.querySelectorAll("[data-log-origin][data-api-base]")) {
    const base = part.getAttribute("data-api-base");
    if (part.getAttribute("data-log-origin") === origin && base) return base;
  }
  return document.getElementById("verify-result")?.dataset.apiBase ?? "/api/v1";
}

const clients = new Map();

/** One read API client per base for the page's run (each answer fetched once). */
function client(base) {
  if (!clients.has(base)) clients.set(base, readApi(base));
  return clients.get(base);
}

function parseRef(part) {
  try {
    return JSON.parse(part.getAttribute("data-ref") ?? "");
  } catch {
    throw Object.assign(new VerifyError("data-ref: expected JSON"), {
      reason: "malformed_reference",
    });
  }
}

/** The referencing event, read from its entry: {event, subjects, ts}; it must carry `ref`. */
async function referrerOf(part, ref) {
  const origin = part.getAttribute("data-referrer-log") ?? "";
  const index = Number(part.getAttribute("data-referrer-index") ?? "");
  if (!Number.isSafeInteger(index) || index < 0) {
    throw mismatch("data-referrer-index: expected an entry index");
  }
  const api = client(part.getAttribute("data-referrer-api-base") || logBase(origin));
  const [log, proof] = await Promise.all([api.get("/log"), api.get(`/entries/${index}/proof`)]);
  if (log?.origin !== origin) {
    throw mismatch(`the referencing log is ${log?.origin}, not ${origin}`);
  }
  const { payload } = parseCompact(proof?.entry);
  const same = (item) => REF_MEMBERS.every((name) => item?.[name] === ref[name]);
  if (payload.type !== "event" || !Array.isArray(payload.refs) || !payload.refs.some(same)) {
    throw mismatch(`entry ${index} of ${origin} does not carry this reference`);
  }
  return { event: payload.event, subjects: payload.subjects, ts: payload.ts };
}

const heads = new Map();

/** The current checkpoint note a read API base's log serves (fetched once per page run). */
function headOf(base) {
  const url = `${base.replace(/\/api\/v1\/?$/, "")}/checkpoint`;
  if (!heads.has(url)) heads.set(url, fetchText(url));
  return heads.get(url);
}

/** GET `url` as text (a signed note); throws "ref_unavailable" if the log does not answer. */
async function fetchText(url) {
  let response;
  try {
    response = await globalThis.fetch(url, { headers: { Accept: "text/plain" } });
  } catch (error) {
    throw unavailable(`${url}: unreachable (${error.message})`);
  }
  if (!response.ok) throw unavailable(`${url}: HTTP ${response.status}`);
  return response.text();
}

/**
 * The referenced log's pin and its evidence for `ref`, as chain's verifiers
 * gather it (readapi.crosslog.check_at_sources): its current checkpoint must
 * still cover the reference (checkHeadCovers), then the entry's proof under
 * that checkpoint and the consistency proof from the reference's size.
 */
async function evidenceOf(part, ref) {
  const base = refBase(part);
  if (!base) {
    const error = new VerifyError(`${ref.log}: a log this site does not follow`);
    throw Object.assign(error, { reason: "ref_unknown_log" });
  }
  const api = client(base);
  let log;
  let head;
  try {
    [log, head] = await Promise.all([
      api.get("/log"),
      headOf(base),
    ]);
  } catch (error) {
    throw error.reason ? error : unavailable(error.message);
  }
  const witnesses = Array.isArray(log?.witnesses) ? log.witnesses : [];
  const given = part.getAttribute("data-quorum") ?? "";
  const quorum = /^[0-9]{1,6}$/.test(given) ? Number(given) : witnesses.length;
  const pins = { [log?.origin]: { vkey: log?.vkey, witnesses, quorum } };
  const { size } = (await checkHeadCovers(ref, head, pins)).checkpoint;
  let proof;
  let consistency = null;
  try {
    proof = await api.get(`/entries/${ref.index}/proof?tree_size=${size}`, { missingOk: true });
    if (size !== ref.size) {
      consistency = await api.get(`/consistency?first=${ref.size}&second=${size}`);
    }
  } catch (error) {
    throw unavailable(error.message);
  }
  if (proof === null) throw unavailable(`${ref.log} shows no entry ${ref.index}`);
  return { pins, evidence: { proof, consistency } };
}

/** Check the reference of `part` and mark it; resolves to the checked reference or the error. */
export async function checkPart(part) {
  mark(part, "working", null, {});
  if (!(await webCryptoSupported())) {
    mark(part, "unsupported", null, {});
    return null;
  }
  try {
    const ref = parseRef(part);
    const referrer = await referrerOf(part, ref);
    const { pins, evidence } = await evidenceOf(part, ref);
    const checked = await checkReference(ref, evidence, pins, referrer);
    mark(part, "ok", null, {
      log: ref.log,
      index: ref.index,
      size: checked.checkpoint.size,
      cosigners: checked.cosigners.join(", ") || "—",
    });
    return checked;
  } catch (error) {
    // A VerifyError without a reason is a read API that failed to answer;
    // anything else is a fault of this script, reported as such.
    const reason = error.reason ?? (error instanceof VerifyError ? "ref_unavailable" : "error");
    if (reason === "error") console.error(error);
    mark(part, "fail", reason, { reason }, error);
    return error;
  }
}

/** The page's words for the outcome: the reason's own, else the state's, else English. */
function template(part, state, reason) {
  const holder = part.closest("[data-ref-messages]");
  const page = (name) => (name ? (part.getAttribute(name) ?? holder?.getAttribute(name)) : null);
  const own = reason ? `data-msg-ref-${reason.replaceAll("_", "-")}` : null;
  const general = `data-msg-ref-${state}`;
  return page(own) ?? page(general) ?? DEFAULTS[own] ?? DEFAULTS[general];
}

function mark(part, state, reason, values, error = null) {
  part.setAttribute("data-ref-state", state);
  if (reason) part.setAttribute("data-ref-reason", reason);
  else part.removeAttribute("data-ref-reason");
  part.setAttribute("aria-busy", String(state === "working"));
  let message = part.querySelector("[data-ref-message]");
  if (!message) {
    message = document.createElement("span");
    message.setAttribute("data-ref-message", "");
    part.append(message);
  }
  const words = template(part, state, reason);
  message.textContent = words.replace(/\{(\w+)\}/g, (all, key) => values[key] ?? all);
  if (error) message.title = error.message;
  else message.removeAttribute("title");
}

/** Check every part of the page (the parts share each log's answers: /log, /checkpoint). */
export function checkAll(root = document) {
  return Promise.all([...root.querySelectorAll("[data-ref]")].map(checkPart));
}

// A module script runs once the document is parsed: every part is there.
if (globalThis.document) checkAll();
