// The pack page's verification badge (<details id="badge">): tapping it checks,
// in this browser, one entry signed by each party of the story (verify.js and
// verify/entry.js, unchanged), and only then says "Checked on your phone".
//
//   data-entries    the entries to check, one per signing party (the first is
//                   also shown in detail in #verify-result, inside the badge)
//   data-witnesses  how many witnesses the badge says vouch for the record: a
//                   check that verifies fewer fails
//   data-state      "idle", "working", "ok", "fail" or "unsupported"
//   data-failed     the ids of the failed checks
//   data-msg-*      the texts (working, ok, fail with {check}, unsupported)
//
// A tap on any other [data-entry] row opens the badge, without running the
// badge's own check, so that the row's verdict in #verify-result is visible.
//
// The verification modules (verify.js and what it imports, most of the page's
// weight) load on the first tap, not with the page: until then this module
// checks the tapped row itself with verify.js's verifyInto; once they are
// loaded, verify.js's own listeners take over.

let modules = null;
let loaded = false;

function load() {
  modules ??= Promise.all([import("./verify.js"), import("./verify/entry.js")]).then(
    ([verify, entry]) => {
      loaded = true;
      return { ...verify, ...entry };
    },
  );
  return modules;
}

function label(panel, id) {
  const key = `check${id.replace(/(^|-)(\w)/g, (_, __, c) => c.toUpperCase())}`;
  return panel?.dataset[key] ?? id;
}

function show(badge, state, message, failed = []) {
  badge.dataset.state = state;
  badge.dataset.failed = failed.join(" ");
  const text = badge.querySelector("[data-badge-state]");
  if (text) text.textContent = message;
}

async function check(badge) {
  const panel = document.getElementById("verify-result");
  const entries = (badge.dataset.entries ?? "")
    .split(" ")
    .map(Number)
    .filter((i) => Number.isSafeInteger(i) && i >= 0);
  const claimed = Number(badge.dataset.witnesses ?? "0");
  show(badge, "working", badge.dataset.msgWorking);
  const given = panel?.dataset.quorum ?? "";
  const quorum = /^[0-9]{1,6}$/.test(given) ? Number(given) : undefined;
  const [first, ...rest] = entries;
  let results;
  try {
    const { labelKey, pageApi, verifyEntry, verifyInto } = await load();
    const api = await pageApi(panel); // the tiles too, with the panel's data-tiles-base
    results = await Promise.all([
      first === undefined || !panel ? null : verifyInto(panel, first, null, api),
      ...rest.map((index) => verifyEntry(index, api, { quorum, labelKey: labelKey() })),
    ]);
  } catch (error) {
    show(badge, "fail", badge.dataset.msgFail.replace("{check}", String(error)), ["proof"]);
    return;
  }
  if (entries.length === 0 || results.includes(null)) {
    show(badge, entries.length ? "unsupported" : "fail", badge.dataset.msgUnsupported);
    return;
  }
  const failed = new Set(results.flatMap((r) => r.checks.filter((c) => !c.ok).map((c) => c.id)));
  if (results.some((r) => (r.witnesses ?? 0) < claimed)) failed.add("witnesses");
  if (failed.size === 0) {
    show(badge, "ok", badge.dataset.msgOk);
    return;
  }
  const names = [...failed].map((id) => label(panel, id)).join(", ");
  show(badge, "fail", badge.dataset.msgFail.replace("{check}", names), [...failed]);
}

function onSummary(event) {
  const badge = event.target.closest?.("#badge");
  if (!badge || !event.target.closest("summary")) return;
  // The click toggles the element after this handler: it is about to open.
  if (!badge.open && badge.dataset.state === "idle") check(badge);
}

async function onRow(event) {
  if (event.type === "keydown" && event.key !== "Enter" && event.key !== " ") return;
  const row = event.target.closest?.("[data-entry]");
  if (!row || event.target.closest("a, button:not([data-entry])")) return;
  const badge = document.getElementById("badge");
  if (badge && !badge.contains(row)) badge.open = true; // verify.js's panel is inside it
  if (loaded) return; // verify.js's own listeners check the row
  const index = Number(row.dataset.entry);
  const panel = document.getElementById("verify-result");
  if (!panel || !Number.isSafeInteger(index) || index < 0) return;
  if (event.type === "keydown") event.preventDefault();
  const { verifyInto } = await load();
  panel.scrollIntoView?.({ block: "nearest" });
  verifyInto(panel, index, row);
}

document.addEventListener("click", onSummary);
document.addEventListener("click", onRow, true);
document.addEventListener("keydown", onRow, true);
