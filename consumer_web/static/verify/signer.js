// Who signed an entry, and with which right: the signer's registrations,
// replayed like chain/registry.py, and each registration proven in turn.
//
// GET /api/v1/signers/<id>?tree_size=<the checkpoint's size> lists {"grants":
// [{"index", "kind", "action", "pubkey", "ts", "signer", "entry"}],
// "registry_proof"} in log order. The list must be complete: each grant must
// be what its entry (JWS) says, and the entries, by the registry proof, must
// be every registration and revocation the checkpoint's registry line commits
// to (verify/registry.js); else "registration history not proven complete".
// The genesis administrators (from
// GET /api/v1/log "admins") hold the admin role from ts 0, before entry 0,
// but only once their own self-signed registration of that key is proven in
// the log's genesis block (gateway init writes it there): the site's list of
// administrators is not taken on its word.
// A registration takes effect at its ts, for entries after it in the log.

import { VerifyError, b64urlDecode } from "./bytes.js";
import { checkIncluded, decodeProof } from "./bundle.js";
import { parseCompact, verifyCompact } from "./jws.js";
import { verifyRegistryHistory } from "./registry.js";
import { EVENT_ROLES, REGISTRAR_ROLES } from "./roles.js";

const MAX_DEPTH = 8;

/** Who may sign `payload` (chain/registry.py): {kind, roles (null: any)}. */
function ruleFor(payload) {
  switch (payload.type) {
    case "reading":
      return { kind: "device", roles: null };
    case "gap": // a signer's own seq stream: any registered signer
      return { kind: null, roles: null };
    case "event": {
      const known = Object.hasOwn(EVENT_ROLES, payload.event);
      return { kind: "operator", roles: known ? EVENT_ROLES[payload.event] : [] };
    }
    case "device":
    case "operator":
      return { kind: "operator", roles: REGISTRAR_ROLES[payload.type] };
    default:
      return null;
  }
}

function grantsOf(info, kid) {
  if (info === null) return [];
  if (info?.id !== kid || !Array.isArray(info.grants)) {
    throw new VerifyError(`signer ${kid}: malformed registration list`);
  }
  for (const g of info.grants) {
    if (!Number.isSafeInteger(g?.index) || !Number.isSafeInteger(g.ts)) {
      throw new VerifyError(`signer ${kid}: malformed grant`);
    }
  }
  return info.grants;
}

/** Check that grant `g` of `kid` says what its entry (JWS) says. */
function checkListed(g, kid) {
  let parsed;
  try {
    parsed = parseCompact(g.entry);
  } catch (error) {
    throw new VerifyError(`entry ${g.index}, listed for ${kid}: ${error.message}`);
  }
  const p = parsed.payload;
  const subject = p.type === "device" ? p.dev : p.op;
  const says = [p.type, p.action, subject, p.pubkey ?? null, p.ts, parsed.kid];
  const listed = [g.kind, g.action, kid, g.pubkey ?? null, g.ts, g.signer];
  if (JSON.stringify(says) !== JSON.stringify(listed)) {
    throw new VerifyError(`entry ${g.index} is not the registration listed for ${kid}`, {
      expected: listed.join(" "),
      calculated: says.join(" "),
    });
  }
}

/**
 * `kid`'s grants from `info` (its /signers answer at the checkpoint's size),
 * once each is its entry and the registry proof shows they are all of them.
 */
async function provenGrants(info, kid, ctx) {
  const grants = grantsOf(info, kid);
  if (info === null) return grants; // none in this tree: hiding them all proves nothing
  grants.forEach((g) => checkListed(g, kid));
  const entries = grants.map((g) => ({ index: g.index, jws: g.entry }));
  await verifyRegistryHistory(kid, entries, info.registry_proof, ctx.checkpoint);
  return grants;
}

/** The grant in force for `kid` at time `ts`, for the entry at log `index`. */
async function grantInForce(kid, ts, index, ctx) {
  const grants = [];
  if (Object.hasOwn(ctx.admins, kid)) {
    grants.push({ index: -1, ts: 0, action: "register", pubkey: ctx.admins[kid], genesis: true });
  }
  const path = `/signers/${encodeURIComponent(kid)}?tree_size=${ctx.checkpoint.size}`;
  const info = await ctx.api.get(path, { missingOk: true });
  const listed = await provenGrants(info, kid, ctx);
  grants.push(...listed.filter((g) => g.index < index));
  if (!grants.length) throw new VerifyError(`${kid} is not registered before entry ${index}`);
  const inForce = grants.filter((g) => g.ts <= ts);
  if (!inForce.length) {
    throw new VerifyError(`${kid} signed at ts ${ts}, before its registration`, {
      expected: `ts >= ${Math.min(...grants.map((g) => g.ts))}`,
      calculated: ts,
    });
  }
  const later = (a, b) => b.ts > a.ts || (b.ts === a.ts && b.index > a.index);
  const grant = inForce.reduce((a, b) => (later(a, b) ? b : a));
  if (grant.action !== "register" || typeof grant.pubkey !== "string") {
    throw new VerifyError(`${kid} was revoked at ts ${grant.ts} (entry ${grant.index})`);
  }
  return grant.genesis ? genesisRegistration(kid, grant.pubkey, listed) : grant;
}

/**
 * The self-signed registration of genesis administrator `kid`'s key `pubkey`
 * among its listed grants, to be proven like any other (it must be in block 0);
 * throws if the site lists none: an administrator the log never registered.
 */
function genesisRegistration(kid, pubkey, grants) {
  const own = grants.find(
    (g) => g.signer === kid && g.kind === "operator" && g.action === "register" && g.pubkey === pubkey,
  );
  if (!own) {
    throw new VerifyError(`${kid} is named a genesis administrator, but the log never registered it`, {
      expected: `a self-signed registration of ${kid} in the genesis block`,
      calculated: "none listed",
    });
  }
  return { ...own, genesisBlock: true };
}

/**
 * Return {key, kind, roles, chain} for the key `kid` held at `ts` for entry
 * `index`, once its registration is proven: the registering entry is in the
 * log of `ctx.checkpoint`, registers exactly that key, and is validly signed
 * by a registrar allowed to, and so on back to a genesis administrator.
 * `ctx`: {api, admins, checkpoint: {size, root}, origin}.
 */
export async function registeredKey(kid, ts, index, ctx, depth = 0) {
  const grant = await grantInForce(kid, ts, index, ctx);
  const key = b64urlDecode(grant.pubkey, `key of ${kid}`);
  if (depth >= MAX_DEPTH) throw new VerifyError(`registrations nested deeper than ${MAX_DEPTH}`);
  const where = `/entries/${grant.index}/proof?tree_size=${ctx.checkpoint.size}`;
  const proof = decodeProof(await ctx.api.get(where), grant.index);
  await checkIncluded(proof, ctx.checkpoint, ctx.origin);
  if (grant.genesisBlock && proof.block.height !== 0) {
    throw new VerifyError(`the registration of genesis administrator ${kid} is not in block 0`, {
      expected: "block 0",
      calculated: `block ${proof.block.height}`,
    });
  }
  const registration = parseCompact(proof.entry);
  const p = registration.payload;
  const subject = p.type === "device" ? p.dev : p.op;
  const describe = (type, action, id, key, ts, by) =>
    `${type} ${action} ${id} key ${key} at ts ${ts} by ${by}`;
  const says = describe(p.type, p.action, subject, p.pubkey, p.ts, registration.kid);
  const listed = describe(grant.kind, "register", kid, grant.pubkey, grant.ts, grant.signer);
  if (says !== listed) {
    throw new VerifyError(`entry ${grant.index} is not the registration listed for ${kid}`, {
      expected: listed,
      calculated: says,
    });
  }
  const signer = await signingKey(registration, grant.index, ctx, depth + 1);
  checkAllowed(registration, signer);
  if (!(await verifyCompact(registration, signer.key))) {
    throw new VerifyError(`the registration of ${kid} (entry ${grant.index}) has a bad signature`);
  }
  const roles = p.type === "operator" && Array.isArray(p.roles) ? p.roles : [];
  const list = (value) => (Array.isArray(value) ? value : []);
  const by = `${kid}: registered by ${registration.kid} in entry ${grant.index}`;
  return {
    key,
    kind: p.type,
    roles,
    kinds: list(p.kinds),
    subjects: list(p.subjects),
    registeredIn: grant.index,
    chain: [by, ...signer.chain],
  };
}

/**
 * The key that signed parsed entry `entry` (log `index`) as its signer's
 * registrations say, proven back to a genesis administrator (see registeredKey).
 */
export async function signingKey(entry, index, ctx, depth = 0) {
  const { kid, payload } = entry;
  if (payload.type === "operator" && payload.op === kid) {
    // Self-signed: only a genesis administrator, registering its own trust-root key.
    if (payload.action !== "register" || ctx.admins[kid] !== payload.pubkey) {
      throw new VerifyError(`${kid} registered itself but is not a genesis administrator`);
    }
    const key = b64urlDecode(payload.pubkey, `key of ${kid}`);
    return { key, kind: "operator", roles: ["admin"], chain: [`${kid}: genesis administrator`] };
  }
  const signer = await registeredKey(kid, payload.ts, index, ctx, depth);
  if (payload.type === "reading" && signer.kind === "device") checkReading(payload, signer, kid);
  return signer;
}

/**
 * A device's reading must be of a kind and about a subject its registration
 * lists (`<kind>:*` allows every subject of that kind), as chain/registry.py's
 * check_reading_allowed says.
 */
function checkReading(payload, signer, kid) {
  const where = `${kid} (registered in entry ${signer.registeredIn})`;
  if (!signer.kinds.includes(payload.kind)) {
    throw new VerifyError(`${where} may not sign a ${payload.kind} reading`, {
      expected: `a kind in ${signer.kinds.join(", ") || "(none)"}`,
      calculated: String(payload.kind),
    });
  }
  const wildcard = `${String(payload.subject).split(":")[0]}:*`;
  if (!signer.subjects.includes(payload.subject) && !signer.subjects.includes(wildcard)) {
    throw new VerifyError(`${where} may not sign readings about ${payload.subject}`, {
      expected: `a subject in ${signer.subjects.join(", ") || "(none)"}`,
      calculated: String(payload.subject),
    });
  }
}

/** Check that `signer` (from signingKey) may sign an entry of `entry`'s type. */
export function checkAllowed(entry, signer) {
  const { kid, payload } = entry;
  const rule = ruleFor(payload);
  if (!rule) throw new VerifyError(`unknown entry type ${payload.type}`);
  const allowed =
    (rule.kind === null || signer.kind === rule.kind) &&
    (!rule.roles || signer.roles.some((r) => rule.roles.includes(r)));
  if (!allowed) {
    const need = `a ${rule.kind}${rule.roles ? ` with a role in ${rule.roles}` : ""}`;
    const what = payload.type === "event" ? `${payload.event} event` : `${payload.type} entry`;
    throw new VerifyError(`a ${what} must be signed by ${need}`, {
      expected: need,
      calculated: `${kid}: a ${signer.kind} with roles ${signer.roles}`,
    });
  }
}
