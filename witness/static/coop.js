// The witness's verifier page (/verify?pack=<pack URL>): every event of a pack,
// checked in this browser against anchors this witness publishes itself.
//
// Anchors: /anchors.json, from the server that served this page (the witness):
// {"witness": {"name", "vkey"}, "logs": [{"origin", "log_keys", "key_ids"}]}.
// The farm's read API (<pack origin>/api/v1, fetched cross-origin) gives the
// data only: the log key must be one this witness follows for the farm's
// origin, the checkpoint must carry this witness's cosignature, and the log key
// must be the one the pack's label names (its `lk`). Each entry then goes
// through every check of lib/entry.js (signer registered, role, signature...).
//
// #coop-result: data-state "working", "ok", "fail" or "unsupported"; one
// li[data-entry] per event with data-ok and data-failed (the failed check ids).
// #coop-anchors: where each anchor came from.

import { webCryptoSupported } from "./lib/bytes.js";
import { readApi, verifyEntry } from "./lib/entry.js";

const PACK_PATH = /^\/01\/([0-9]{8}|[0-9]{12,14})\/(21|10)\/([A-Za-z0-9][A-Za-z0-9._-]{0,19})$/;

/**
 * {origin, subject, labelKey} of a pack's GS1 Digital Link URL (chain/gs1.py's
 * grammar); throws an Error naming what is wrong.
 */
export function parsePackUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a web address: ${String(text).slice(0, 80)}`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new Error(`expected an http(s) address, found ${url.protocol}`);
  }
  const match = PACK_PATH.exec(url.pathname);
  if (!match) throw new Error(`expected /01/<GTIN>/21/<serial> or /10/<lot>, found ${url.pathname}`);
  const [, gtin, ai, value] = match;
  const kind = ai === "21" ? "pack" : "lot";
  return {
    origin: url.origin,
    subject: `${kind}:${gtin.padStart(14, "0")}.${value}`,
    labelKey: url.searchParams.get("lk"),
  };
}

function paragraph(text) {
  const p = document.createElement("p");
  p.textContent = text;
  return p;
}

function entryItem(result) {
  const item = document.createElement("li");
  const failed = result.checks.filter((c) => !c.ok);
  item.dataset.entry = String(result.index);
  item.dataset.ok = String(result.ok);
  item.dataset.failed = failed.map((c) => c.id).join(" ");
  const head = document.createElement("strong");
  const what = result.type ? `${result.type} by ${result.kid}` : "unreadable";
  head.textContent = `${result.ok ? "\u2713" : "\u2717"} entry ${result.index} (${what})`;
  const checks = document.createElement("ul");
  for (const check of result.checks) {
    const line = document.createElement("li");
    line.dataset.check = check.id;
    line.dataset.ok = String(check.ok);
    line.textContent = `${check.ok ? "\u2713" : "\u2717"} ${check.id}: ${check.message}`;
    for (const [name, value] of [["expected", check.expected], ["found", check.calculated]]) {
      if (value === undefined) continue;
      const code = document.createElement("code");
      code.textContent = value;
      const row = document.createElement("div");
      row.append(`${name}: `, code);
      line.append(row);
    }
    checks.append(line);
  }
  item.append(head, checks);
  return item;
}

function show(panel, state, message, items = []) {
  panel.dataset.state = state;
  const list = document.createElement("ul");
  list.append(...items);
  panel.replaceChildren(paragraph(message), list);
}

async function getJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

/** The anchors for the farm's log origin, from this witness's anchors.json. */
async function anchorsFor(origin, siteVkey) {
  const doc = await getJson(new URL("/anchors.json", document.baseURI));
  const log = (doc?.logs ?? []).find((l) => l.origin === origin);
  if (!log || !Array.isArray(log.log_keys) || !log.log_keys.length) {
    throw new Error(`this witness (${doc?.witness?.name}) does not follow the log ${origin}`);
  }
  const vkey = log.log_keys.includes(siteVkey) ? siteVkey : log.log_keys[0];
  const source = `${doc.witness.name} (${location.origin}/anchors.json)`;
  return { origin, vkey, witnesses: [doc.witness.vkey], quorum: 1, source, witness: doc.witness };
}

/** Verify every event of the pack at `packUrl`; report into #coop-result. */
export async function verifyPack(packUrl, panel, anchorsPanel) {
  show(panel, "working", `Checking ${packUrl}…`);
  if (!(await webCryptoSupported())) {
    show(panel, "unsupported", "This browser cannot verify (it needs WebCrypto Ed25519).");
    return;
  }
  let pack;
  let anchors;
  let events;
  const api = (() => {
    try {
      pack = parsePackUrl(packUrl);
      return readApi(`${pack.origin}/api/v1`);
    } catch (error) {
      return error;
    }
  })();
  try {
    if (api instanceof Error) throw api;
    const log = await api.get("/log");
    anchors = await anchorsFor(log?.origin, log?.vkey);
    const found = await api.get(`/subjects/${encodeURIComponent(pack.subject)}/events`);
    events = (found?.events ?? []).map((e) => e.index).filter(Number.isSafeInteger);
  } catch (error) {
    show(panel, "fail", `Not verified: ${error.message}`);
    return;
  }
  anchorsPanel.replaceChildren(
    paragraph(`Log ${anchors.origin}: key ${anchors.vkey}, from ${anchors.source}.`),
    paragraph(`Witness key ${anchors.witness.vkey}, from ${anchors.source}.`),
    paragraph(
      pack.labelKey === null
        ? "The pack's address names no log key: the label does not pin the log."
        : `The pack's label names log key ${pack.labelKey}.`,
    ),
  );
  if (!events.length) {
    show(panel, "fail", `Not verified: the farm's site lists no event about ${pack.subject}.`);
    return;
  }
  const options = { labelKey: pack.labelKey, anchors };
  const results = [];
  for (const index of events) results.push(await verifyEntry(index, api, options));
  const bad = results.filter((r) => !r.ok);
  const message = bad.length
    ? `NOT verified: ${bad.length} of ${results.length} entries failed (${bad.map((r) => r.index).join(", ")}).`
    : `Verified: all ${results.length} entries about ${pack.subject}, against ${anchors.source}.`;
  show(panel, bad.length ? "fail" : "ok", message, results.map(entryItem));
}

const given = new URLSearchParams(location.search).get("pack");
const input = document.getElementById("coop-url");
if (given && input) {
  input.value = given;
  verifyPack(given, document.getElementById("coop-result"), document.getElementById("coop-anchors"));
}
