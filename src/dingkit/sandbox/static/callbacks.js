// The sandbox page's events view: the event pushes (HTTP callbacks, §7) the sandbox sent to
// subscribers, newest first, each with its attempts and outcome (delivered / retrying /
// failed), the subscriptions they went to (tokens and keys are never sent to the page), and
// the URL checks (check_url handshakes, §7.4) that register_call_back and update_call_back
// made, with their outcome and the receiver's reason for a refusal.
//
// /_sandbox/pushes?after=<cursor> answers the pushes that changed since the cursor (a new
// attempt changes a push), so each poll carries only what is new; entries are kept by push
// id and rebuilt only when they changed. /_sandbox/handshakes?after=<id> likewise, though a
// check never changes once made. Everything is set as text.
"use strict";

(() => {
  const page = window.dingkitSandbox;
  if (!page) return;
  const { el, setText, shortTime, getJSON, registerView } = page;
  const $ = (id) => document.getElementById(id);
  // Older pushes beyond this are dropped from the page (the store keeps them).
  const MAX_SHOWN = 500;

  const ui = {
    tab: $("events-tab"),
    panel: $("events-panel"),
    list: $("push-list"),
    empty: $("pushes-empty"),
    count: $("events-failed-count"),
    subscriptions: $("subscription-list"),
    handshakes: $("handshakes"),
    handshakeList: $("handshake-list"),
  };
  const pushes = new Map(); // push id -> { record, item }
  let cursor = 0;
  let handshakeCursor = 0;

  async function poll() {
    await pollSubscriptions();
    await pollHandshakes();
    for (let round = 0; round < 10; round += 1) {
      const data = await getJSON(`/_sandbox/pushes?after=${cursor}&limit=200`);
      const found = Array.isArray(data.pushes) ? data.pushes : [];
      for (const push of found) upsert(push);
      cursor = Number(data.cursor) || cursor;
      if (found.length < 200) break;
    }
    trim();
    ui.empty.hidden = pushes.size > 0;
    const failed = [...pushes.values()].filter((p) => p.record.state === "failed").length;
    ui.count.hidden = failed === 0;
    setText(ui.count, String(failed));
    ui.count.title = `${failed} failed push${failed === 1 ? "" : "es"}`;
  }

  async function pollSubscriptions() {
    const data = await getJSON("/_sandbox/callbacks");
    const found = Array.isArray(data.subscriptions) ? data.subscriptions : [];
    const rows = found.map((s) => {
      const tags = Array.isArray(s.tags) ? s.tags.join(", ") : "every event";
      const row = el("li", "subscription", [
        el("span", "subscription-name", String(s.name || "")),
        el("span", "subscription-url", String(s.url || "")),
        el("span", "subscription-meta",
          `receiver ${s.receiver_id || ""} · ${s.style || "new"} format · ${tags}`),
      ]);
      row.dataset.testid = "subscription";
      return row;
    });
    if (rows.length === 0) {
      rows.push(el("li", "subscription none",
        "No subscriptions: add a [[callback]] table to the config, or register_call_back."));
    }
    const signature = JSON.stringify(found);
    if (ui.subscriptions.dataset.signature !== signature) {
      ui.subscriptions.replaceChildren(...rows);
      ui.subscriptions.dataset.signature = signature;
    }
  }

  async function pollHandshakes() {
    for (let round = 0; round < 10; round += 1) {
      const data = await getJSON(`/_sandbox/handshakes?after=${handshakeCursor}&limit=200`);
      const found = Array.isArray(data.handshakes) ? data.handshakes : [];
      for (const check of found) ui.handshakeList.prepend(handshakeItem(check)); // ids grow
      handshakeCursor = Number(data.cursor) || handshakeCursor;
      if (found.length < 200) break;
    }
    const items = ui.handshakeList.children;
    while (items.length > MAX_SHOWN) items[items.length - 1].remove();
    ui.handshakes.hidden = items.length === 0;
  }

  function handshakeItem(check) {
    const outcome = check.outcome === "ok" ? "ok" : "failed";
    const badge = el("span", `push-state state-${outcome}`, outcome);
    badge.dataset.testid = "handshake-outcome";
    const action = check.action === "update" ? "update_call_back" : "register_call_back";
    const status = check.http_status ? `HTTP ${check.http_status}` : "no HTTP reply";
    const item = el("li", "handshake", [
      badge,
      el("time", "handshake-meta", shortTime(check.at)),
      el("span", "handshake-meta", action),
      el("span", "handshake-url", String(check.url || "")),
      el("span", "handshake-meta", status),
      check.errcode ? el("span", "handshake-meta", `errcode ${check.errcode}`) : "",
      check.reason ? el("span", "handshake-reason", String(check.reason)) : "",
    ]);
    item.dataset.testid = "handshake";
    item.dataset.outcome = outcome;
    return item;
  }

  function upsert(push) {
    let entry = pushes.get(push.id);
    if (!entry) {
      const item = el("li", "push");
      item.dataset.testid = "push";
      item.dataset.pushId = String(push.id);
      entry = { record: push, item };
      pushes.set(push.id, entry);
      ui.list.prepend(item); // newest first: ids only grow
    }
    entry.record = push;
    fill(entry.item, push);
  }

  function trim() {
    const ids = [...pushes.keys()].sort((a, b) => b - a);
    for (const id of ids.slice(MAX_SHOWN)) {
      pushes.get(id).item.remove();
      pushes.delete(id);
    }
  }

  function summary(plaintext) {
    try {
      const event = JSON.parse(plaintext);
      const parts = [event.type, event.result].filter(Boolean);
      const ids = event.userId || event.UserId || event.deptId || event.DeptId;
      if (Array.isArray(ids)) parts.push(ids.join(", "));
      if (event.title) parts.push(event.title);
      return parts.join(" · ");
    } catch (error) {
      return "";
    }
  }

  function fill(item, push) {
    const state = String(push.state || "");
    item.dataset.state = state;
    const badge = el("span", `push-state state-${state}`, state);
    badge.dataset.testid = "push-state";
    const head = el("div", "push-head", [
      el("span", "push-type", String(push.event_type || "")),
      el("span", "push-summary", summary(String(push.plaintext || ""))),
      badge,
    ]);
    const meta = el("div", "push-meta", [
      el("time", "", shortTime(push.created_at)),
      el("span", "", `to ${push.url || ""} (${push.subscription || ""})`),
      el("span", "push-event-id", `eventId ${push.event_id || ""}`),
      push.next_attempt_at ? el("span", "", `next try ${shortTime(push.next_attempt_at)}`) : "",
    ]);
    const attempts = el("ol", "push-attempts");
    (Array.isArray(push.attempts) ? push.attempts : []).forEach((attempt, index) => {
      const status = attempt.http_status ? `HTTP ${attempt.http_status}` : "no HTTP reply";
      const row = el("li", `push-attempt outcome-${attempt.outcome}`, [
        el("span", "attempt-number", `#${index + 1}`),
        el("time", "", shortTime(attempt.at)),
        el("span", "attempt-outcome", String(attempt.outcome || "")),
        el("span", "attempt-status", status),
        attempt.error ? el("span", "attempt-error", String(attempt.error)) : "",
      ]);
      row.dataset.testid = "push-attempt";
      attempts.append(row);
    });
    const details = el("details", "push-payload", [
      el("summary", "", "Decrypted payload"),
      el("pre", "", prettyJSON(String(push.plaintext || ""))),
    ]);
    const open = item.querySelector("details.push-payload");
    if (open && open.open) details.open = true; // keep it open across updates
    item.replaceChildren(head, meta, attempts, details);
  }

  function prettyJSON(text) {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (error) {
      return text;
    }
  }

  registerView("events", { ...ui, poll, always: true });
})();
