// Verify-in-browser: tap an element carrying data-entry="<global entry index>"
// and this module checks that entry itself (verify/entry.js), with WebCrypto,
// from the site's read API, then reports into the element #verify-result:
//
//   data-state       "working", "ok", "fail", or "unsupported" (no WebCrypto
//                    Ed25519 here, e.g. an old browser or a page not on HTTPS)
//   data-entry       the entry checked
//   data-failed      the ids of the failed checks (verify/entry.js CHECKS, or "proof")
//
// Texts come from #verify-result's attributes, so the page's language is used:
// data-msg-working, data-msg-ok, data-msg-fail, data-msg-unsupported
// (placeholders {entry}, {block}, {size}, {witnesses}, {signer}, {check}), data-msg-expected,
// data-msg-calculated, data-msg-raw, and data-check-<id> for each check's name;
// data-msg-witnesses-ok and data-msg-witnesses-short word the witnesses check
// (placeholders {count}, {total}, {quorum}, {names}).
// data-quorum is how many of the log's witnesses must have cosigned the
// checkpoint (the site's policy); data-api-base overrides the read API's base
// path ("/api/v1"); data-tiles-base, when present, is a C2SP tlog-tiles
// prefix (docs/tiles.md) the entry proofs are built from (verify/tiles.js)
// instead of the read API's proof endpoint.
// The log key the pack's label committed to is the page address's `lk`
// parameter (GS1 Digital Link, chain/gs1.py), read from the address bar, not
// from the page: a log signed by another key fails the checkpoint check, and
// without it the check says it is not pinned by the label.
// The panel's content is replaced by a [data-verify-message] element (the
// message) and a [data-verify-detail] list (the checks and a raw proof link).
// A row inside a part of another party's log ([data-ref][data-api-base], the
// stitched pack page, verify/stitched.js), or a row whose data-log-origin names
// such a part's log, is checked from that part's read API with its
// data-quorum, and not against the label's log key.

import { webCryptoSupported } from "./verify/bytes.js";
import { readApi, verifyEntry } from "./verify/entry.js";

/** The label's log key ID: the address's `lk` parameter, or null when it has none. */
export function labelKey(search = globalThis.location?.search ?? "") {
  return new URLSearchParams(search).get("lk");
}

const DEFAULTS = {
  msgWorking: "Verifying entry {entry}…",
  msgOk: "Entry {entry} verified in your browser.",
  msgFail: "Entry {entry} failed verification: {check}.",
  msgUnsupported: "This browser cannot verify here (it needs WebCrypto Ed25519 over HTTPS).",
  msgExpected: "expected",
  msgCalculated: "calculated",
  msgRaw: "Raw proof (JSON)",
  checkProof: "Proof fetched",
  checkCheckpoint: "Checkpoint signed by the log key",
  checkWitnesses: "Witness cosignatures",
  checkBlockHeader: "Block header",
  checkBlockInclusion: "Block included in the log",
  checkEntryInclusion: "Entry included in its block",
  checkSigner: "Signer registered and authorised",
  checkEntrySignature: "Entry signature",
};

const WITNESS_MESSAGES = { ok: "msgWitnessesOk", short: "msgWitnessesShort" };

let latest = 0;

function text(panel, name) {
  return panel.dataset[name] ?? DEFAULTS[name] ?? name;
}

function label(panel, id) {
  return text(panel, `check${id.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase())}`);
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (all, name) => values[name] ?? all);
}

function child(panel, attribute, tag) {
  let element = panel.querySelector(`[${attribute}]`);
  if (!element) {
    element = document.createElement(tag);
    element.setAttribute(attribute, "");
  }
  return element;
}

function checkMessage(panel, check) {
  const { detail } = check;
  const worded = check.id === "witnesses" && detail?.total > 0;
  const template = worded ? panel.dataset[WITNESS_MESSAGES[detail.outcome]] : undefined;
  return template ? fill(template, detail) : check.message;
}

function checkItem(panel, check) {
  const item = document.createElement("li");
  item.dataset.check = check.id;
  item.dataset.ok = String(check.ok);
  const name = document.createElement("strong");
  name.textContent = `${check.ok ? "\u2713" : "\u2717"} ${label(panel, check.id)}`;
  item.append(name, ` ${checkMessage(panel, check)}`);
  const values = { msgExpected: check.expected, msgCalculated: check.calculated };
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined) continue;
    const line = document.createElement("div");
    const code = document.createElement("code");
    code.textContent = value;
    line.append(`${text(panel, key)}: `, code);
    item.append(line);
  }
  return item;
}

function render(panel, state, index, result, base = panel.dataset.apiBase ?? "/api/v1") {
  const failed = result ? result.checks.filter((c) => !c.ok) : [];
  panel.dataset.state = state;
  panel.dataset.entry = String(index);
  panel.dataset.failed = failed.map((c) => c.id).join(" ");
  panel.setAttribute("aria-busy", String(state === "working"));
  const values = {
    entry: index,
    block: result?.block,
    size: result?.size,
    witnesses: result?.witnesses,
    quorum: result?.quorum,
    signer: result?.kid,
    check: failed.map((c) => label(panel, c.id)).join(", "),
  };
  const key = `msg${state[0].toUpperCase()}${state.slice(1)}`;
  const message = child(panel, "data-verify-message", "span");
  message.textContent = fill(text(panel, key), values);
  const detail = child(panel, "data-verify-detail", "ul");
  detail.replaceChildren(...(result?.checks ?? []).map((check) => checkItem(panel, check)));
  panel.replaceChildren(message, detail);
  if (result) {
    const link = document.createElement("a");
    link.href = `${base}/entries/${index}/proof`;
    link.textContent = text(panel, "msgRaw");
    const item = document.createElement("li");
    item.append(link);
    detail.append(item);
  }
}

/**
 * The read API client `panel`'s proofs come from: with data-tiles-base, entry
 * proofs built from the tiles (verify/tiles.js) and the rest (the log's
 * description, signers) from the site's API; else the site's API alone.
 */
export async function pageApi(panel) {
  const site = readApi(panel?.dataset.apiBase ?? "/api/v1");
  const tiles = panel?.dataset.tilesBase;
  // Loaded only when used, so that pages without a tiles source do not carry it.
  return tiles ? (await import("./verify/tiles.js")).tileApi(tiles, site) : site;
}

/**
 * The stitched part ([data-ref][data-api-base]) whose log `row` belongs to:
 * the part it sits in, or, for a row naming its log (data-log-origin, e.g. an
 * upstream recall), a part of that log; null for a row of the page's own log.
 */
function partOf(row) {
  const inside = row?.closest?.("[data-ref][data-api-base]");
  if (inside || !row?.dataset?.logOrigin) return inside ?? null;
  const parts = document.querySelectorAll("[data-ref][data-api-base]:not([data-api-base=''])");
  return [...parts].find((p) => p.dataset.logOrigin === row.dataset.logOrigin) ?? null;
}

/**
 * Verify entry `index` and show the outcome in `panel` (#verify-result);
 * `api` (default: pageApi(panel)) lets several checks share one client.
 */
export async function verifyInto(panel, index, row = null, api = null) {
  const ticket = ++latest;
  // A row inside a part of another party's log (the stitched pack page,
  // verify/stitched.js) is that log's entry: checked from its read API, with
  // its quorum, and not against the log key the label names.
  const part = partOf(row);
  const base = part?.dataset.apiBase || undefined;
  render(panel, "working", index, null, base);
  row?.setAttribute("data-verify-state", "working");
  if (!(await webCryptoSupported())) {
    row?.setAttribute("data-verify-state", "unsupported");
    if (ticket === latest) render(panel, "unsupported", index, null, base);
    return null;
  }
  const given = (base ? part.dataset.quorum : panel.dataset.quorum) ?? "";
  const quorum = /^[0-9]{1,6}$/.test(given) ? Number(given) : undefined;
  const client = api ?? (base ? readApi(base) : await pageApi(panel));
  const label = base ? null : labelKey();
  const result = await verifyEntry(index, client, { quorum, labelKey: label });
  row?.setAttribute("data-verify-state", result.ok ? "ok" : "fail");
  if (ticket === latest) render(panel, result.ok ? "ok" : "fail", index, result, base);
  return result;
}

function onActivate(event) {
  if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") return;
  const row = event.target.closest?.("[data-entry]");
  const panel = document.getElementById("verify-result");
  if (!row || !panel || event.target.closest("a, button:not([data-entry])")) return;
  const index = Number(row.dataset.entry);
  if (!Number.isSafeInteger(index) || index < 0) return;
  if (event.type === "keydown") event.preventDefault();
  panel.scrollIntoView?.({ block: "nearest" });
  verifyInto(panel, index, row);
}

document.addEventListener("click", onActivate);
document.addEventListener("keydown", onActivate);
