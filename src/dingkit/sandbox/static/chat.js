// The sandbox chat page: the groups on the left, the selected group's robot messages
// on the right, and a second panel with the requests the sandbox rejected. More views
// (approvals, work notifications: openapi.js) register themselves as tabs through
// window.dingkitSandbox.registerView and are polled with the rest.
//
// A group without messages shows how to post to it: each of its robots' webhook and
// secret (from /_sandbox/robots, behind the same admin guard as the rest of the page) with
// copy buttons, and one-liners for `dingkit send` and curl. On a narrow screen the group
// list is a drawer opened from the conversation header.
//
// It polls the sandbox JSON API once a second. Messages and rejections are fetched
// with an `after` cursor, so each poll only carries what is new. Message bubbles are
// HTML rendered (and escaped) by the server; everything else is set as text.
"use strict";

(() => {
  const POLL_MS = 1000;
  const MAX_RETRY_MS = 5000;
  const REQUEST_TIMEOUT_MS = 5000;
  const PAGE_SIZE = 200;
  // Pages fetched in one poll; a huge backlog then loads over a few seconds instead
  // of blocking everything else.
  const MAX_PAGES_PER_POLL = 10;
  const NEAR_BOTTOM_PX = 80;

  const $ = (id) => document.getElementById(id);
  const ui = {
    banner: $("unreachable-banner"),
    groupList: $("group-list"),
    groupsEmpty: $("groups-empty"),
    conversationName: $("conversation-name"),
    conversationRobots: $("conversation-robots"),
    scroll: $("conversation-scroll"),
    messageList: $("message-list"),
    messagesEmpty: $("messages-empty"),
    howto: $("group-howto"),
    groupsToggle: $("groups-toggle"),
    groupsClose: $("groups-close"),
    messagesTab: $("messages-tab"),
    rejectionsTab: $("rejections-tab"),
    rejectionsCount: $("rejections-count"),
    messagesPanel: $("messages-panel"),
    rejectionsPanel: $("rejections-panel"),
    rejectionList: $("rejection-list"),
    rejectionsEmpty: $("rejections-empty"),
  };

  const state = {
    groups: [], // summaries from /_sandbox/groups, in server order
    groupsLoaded: false,
    selected: null, // group id
    threads: new Map(), // group id -> { messages: [], cursor: 0 }
    rejectionCursor: 0,
    rejectionTotal: 0,
  };

  // ---- fetching ---------------------------------------------------------------

  class UnreachableError extends Error {}

  // Beyond loopback the sandbox wants its run's admin token on every /_sandbox call. The
  // banner's page link carries it in the fragment (which browsers never send); it is kept
  // for this tab only and taken out of the address bar before anything reads the hash.
  const ADMIN_HEADER = "X-Dingkit-Admin-Token";
  const adminToken = (() => {
    const params = new URLSearchParams(location.hash.slice(1));
    const given = params.get("admin");
    if (given) {
      sessionStorage.setItem("dingkit-admin-token", given);
      params.delete("admin");
      const rest = params.toString();
      history.replaceState(null, "", location.pathname + location.search + (rest ? `#${rest}` : ""));
    }
    return sessionStorage.getItem("dingkit-admin-token");
  })();

  function withAdmin(headers) {
    return adminToken ? { ...headers, [ADMIN_HEADER]: adminToken } : headers;
  }

  async function getJSON(path) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      let response;
      try {
        response = await fetch(path, {
          signal: controller.signal,
          cache: "no-store",
          headers: withAdmin({}),
        });
      } catch (error) {
        throw new UnreachableError(String(error));
      }
      if (!response.ok) throw new UnreachableError(`${path}: HTTP ${response.status}`);
      try {
        return await response.json();
      } catch (error) {
        throw new UnreachableError(`${path}: not JSON`);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  // A POST to the sandbox's own endpoints: { ok, status, data } (data: the JSON answer).
  async function postJSON(path, body) {
    let response;
    try {
      response = await fetch(path, {
        method: "POST",
        headers: withAdmin({ "Content-Type": "application/json" }),
        body: JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      throw new UnreachableError(String(error));
    }
    let data = null;
    try {
      data = await response.json();
    } catch (error) {
      data = null;
    }
    return { ok: response.ok, status: response.status, data };
  }

  function query(params) {
    return new URLSearchParams(params).toString();
  }

  // ---- polling loop -----------------------------------------------------------

  let timer = null;
  let running = false;
  let pollAgain = false;
  let failures = 0;

  // One poll at a time: a slow sandbox must not pile up overlapping requests.
  async function poll() {
    if (running) {
      pollAgain = true; // a timer fired while a poll was under way: go again after it
      return;
    }
    running = true;
    try {
      await pollGroups();
      await pollMessages();
      await pollRejections();
      for (const [name, view] of views) {
        if (view.poll && (view.always || name === activeView)) await view.poll();
      }
      failures = 0;
      ui.banner.hidden = true;
    } catch (error) {
      failures += 1;
      if (error instanceof UnreachableError) {
        ui.banner.hidden = false;
      } else if (failures === 1) {
        // A bug here would repeat every second; report it once per streak.
        console.error("sandbox page:", error);
      }
    } finally {
      running = false;
      const delay = pollAgain ? 0 : Math.min(POLL_MS * 2 ** failures, MAX_RETRY_MS);
      pollAgain = false;
      schedule(delay);
    }
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(poll, delay);
  }

  function pollSoon() {
    if (running) pollAgain = true;
    else schedule(0);
  }

  // ---- groups -----------------------------------------------------------------

  async function pollGroups() {
    const data = await getJSON("/_sandbox/groups");
    const groups = Array.isArray(data.groups) ? data.groups : [];
    forgetStaleThreads(groups);
    state.groups = groups;
    state.groupsLoaded = true;
    if (state.selected === null && groups.length > 0) {
      // No group in the URL yet: open the first one without adding a history entry.
      history.replaceState(null, "", groupHash(groups[0].id));
      state.selected = String(groups[0].id);
      renderConversation();
    }
    renderGroupList();
    renderConversationHeader();
  }

  // The sandbox keeps its records in memory: after a restart or reset the ids start
  // again from 1 and our cursors would skip every new message. A group whose last
  // message is older than the one we hold is the sign; start over from scratch.
  function forgetStaleThreads(groups) {
    let stale = false;
    for (const group of groups) {
      const thread = state.threads.get(String(group.id));
      const last = group.last_message;
      const lastId = last && typeof last.id === "number" ? last.id : 0;
      if (thread && lastId < thread.cursor) stale = true;
    }
    if (!stale) return;
    state.threads.clear();
    renderConversation();
    state.rejectionCursor = 0;
    state.rejectionTotal = 0;
    ui.rejectionList.replaceChildren();
  }

  function renderGroupList() {
    ui.groupsEmpty.hidden = !(state.groupsLoaded && state.groups.length === 0);
    const existing = new Map();
    for (const item of ui.groupList.children) existing.set(item.dataset.groupId, item);
    state.groups.forEach((group, index) => {
      const id = String(group.id);
      let item = existing.get(id);
      if (!item) item = createGroupItem(id);
      existing.delete(id);
      updateGroupItem(item, group);
      if (ui.groupList.children[index] !== item) {
        ui.groupList.insertBefore(item, ui.groupList.children[index] || null);
      }
    });
    for (const stale of existing.values()) stale.remove();
  }

  function createGroupItem(id) {
    const item = el("li", "group-item");
    item.dataset.testid = "group-item";
    item.dataset.groupId = id;
    const link = el("a", "group-link");
    link.href = groupHash(id);
    link.append(
      el("span", "avatar group-avatar"),
      el("span", "group-text", [
        el("span", "group-line", [
          el("span", "group-name"),
          el("span", "group-tag", "dissolved"),
          el("span", "group-time"),
        ]),
        el("span", "group-line", [el("span", "group-preview"), el("span", "group-count")]),
      ]),
    );
    item.append(link);
    return item;
  }

  function updateGroupItem(item, group) {
    const name = String(group.name || group.id);
    const last = group.last_message;
    const count = Number(group.message_count) || 0;
    setText(item.querySelector(".group-avatar"), initial(name));
    paintAvatar(item.querySelector(".group-avatar"), name);
    setText(item.querySelector(".group-name"), name);
    setText(item.querySelector(".group-time"), last ? shortTime(last.received_at) : "");
    setText(
      item.querySelector(".group-preview"),
      last ? `${last.robot}: ${last.preview || ""}` : "No messages yet",
    );
    setText(item.querySelector(".group-count"), String(count));
    item.querySelector(".group-count").title = `${count} message${count === 1 ? "" : "s"}`;
    // The sandbox can dissolve a group to test errcode 400013; say so in the list.
    item.querySelector(".group-tag").hidden = !group.dissolved;
    item.classList.toggle("selected", String(group.id) === state.selected);
    item.querySelector(".group-link").setAttribute(
      "aria-current",
      String(group.id) === state.selected ? "page" : "false",
    );
  }

  // ---- messages ---------------------------------------------------------------

  function threadFor(id) {
    if (!state.threads.has(id)) state.threads.set(id, { messages: [], cursor: 0, loaded: false });
    return state.threads.get(id);
  }

  async function pollMessages() {
    const id = state.selected;
    // A group the sandbox does not know (a stale link) has no messages to ask for.
    if (id === null || !state.groups.some((g) => String(g.id) === id)) return;
    const thread = threadFor(id);
    for (let page = 0; page < MAX_PAGES_PER_POLL; page += 1) {
      const path = `/_sandbox/messages?${query({ group: id, after: thread.cursor, limit: PAGE_SIZE })}`;
      const data = await getJSON(path);
      if (state.threads.get(id) !== thread) return; // the thread was reset meanwhile
      const received = Array.isArray(data.messages) ? data.messages : [];
      const fresh = received.filter((m) => typeof m.id === "number" && m.id > thread.cursor);
      for (const message of fresh) {
        thread.messages.push(message);
        thread.cursor = message.id;
      }
      if (state.selected === id) appendMessages(fresh, !thread.loaded);
      if (received.length < PAGE_SIZE) break;
    }
    thread.loaded = true;
    if (state.selected !== id) return;
    if (thread.messages.length === 0) await pollHowto(id);
    renderEmptyState();
  }

  function renderConversation() {
    ui.messageList.replaceChildren();
    const thread = state.selected === null ? null : state.threads.get(state.selected);
    if (thread) appendMessages(thread.messages, true);
    renderConversationHeader();
    renderEmptyState();
  }

  function renderConversationHeader() {
    const group = state.groups.find((g) => String(g.id) === state.selected);
    if (group) {
      setText(ui.conversationName, String(group.name || group.id));
      const robots = Array.isArray(group.robots) ? group.robots : [];
      setText(ui.conversationRobots, robots.length ? `Robots: ${robots.join(", ")}` : "");
    } else {
      setText(ui.conversationName, state.selected === null ? "Loading…" : state.selected);
      setText(ui.conversationRobots, state.groupsLoaded && state.selected !== null
        ? "This group is not configured in the sandbox." : "");
    }
  }

  function renderEmptyState() {
    const thread = state.selected === null ? null : state.threads.get(state.selected);
    ui.messagesEmpty.hidden = !(thread && thread.loaded && thread.messages.length === 0);
    ui.howto.hidden = ui.messagesEmpty.hidden || ui.howto.dataset.group !== state.selected;
  }

  // ---- how to post to an empty group -------------------------------------------

  const SAMPLE_TEXT = "hello";
  // What the how-to was built from: it is rebuilt only when that changes, so a poll never
  // drops a selection the reader made in it.
  let howtoSignature = "";

  async function pollHowto(id) {
    const data = await getJSON("/_sandbox/robots");
    if (state.selected !== id) return;
    const robots = Array.isArray(data.robots) ? data.robots : [];
    renderHowto(id, robots.filter((robot) => String(robot.group) === id));
  }

  function renderHowto(id, robots) {
    const signature = JSON.stringify([id, robots]);
    if (signature === howtoSignature) return;
    howtoSignature = signature;
    ui.howto.dataset.group = id;
    const parts = [el("h3", "howto-title", "Post to this group")];
    if (robots.length === 0) {
      parts.push(el("p", "howto-note", "No robot posts to this group: give one " +
        `group = "${id}" in the sandbox config's [[robot]].`));
    }
    for (const robot of robots) parts.push(robotHowto(robot));
    ui.howto.replaceChildren(...parts);
  }

  function robotHowto(robot) {
    const webhook = String(robot.webhook || "");
    const secret = robot.secret ? String(robot.secret) : "";
    const keywords = Array.isArray(robot.keywords) ? robot.keywords.map(String) : [];
    // A keyword robot refuses a message without one of its keywords (310000).
    const content = keywords.length ? `${keywords[0]} ${SAMPLE_TEXT}` : SAMPLE_TEXT;
    const dingkit = ["dingkit send text", shellQuote(content), "--webhook", shellQuote(webhook)];
    if (secret) dingkit.push("--secret", shellQuote(secret));
    const body = JSON.stringify({ msgtype: "text", text: { content } });
    const item = el("div", "howto-robot", [
      el("div", "howto-robot-name", [
        el("span", "", String(robot.name || "")),
        robot.disabled ? el("span", "group-tag", "disabled") : "",
      ]),
      copyRow("Webhook", webhook, "webhook"),
    ]);
    item.dataset.testid = "howto-robot";
    item.dataset.robot = String(robot.name || "");
    if (secret) item.append(copyRow("Secret", secret, "secret"));
    if (keywords.length) {
      item.append(el("p", "howto-note", `Messages must contain a keyword: ${keywords.join(", ")}`));
    }
    const allowed = Array.isArray(robot.ip_allowlist) ? robot.ip_allowlist.map(String) : [];
    if (allowed.length) {
      item.append(el("p", "howto-note", `Accepted only from ${allowed.join(", ")}`));
    }
    item.append(copyRow("dingkit", dingkit.join(" "), "dingkit"));
    if (secret) {
      // A signed request needs a fresh timestamp and its HMAC in the URL (§2.4), which a
      // one-line curl cannot compute without a script around it.
      item.append(el("p", "howto-note",
        "curl: this robot signs, so the URL needs &timestamp=<ms>&sign=<base64 HMAC-SHA256 " +
        "of timestamp + \"\\n\" + secret, URL-encoded>, made afresh within the hour; " +
        "dingkit send (above) does that for you."));
    } else {
      const header = "-H 'Content-Type: application/json'";
      const curl = ["curl", header, "-d", shellQuote(body), shellQuote(webhook)];
      item.append(copyRow("curl", curl.join(" "), "curl"));
    }
    if (robot.disabled) item.append(el("p", "howto-note", "Disabled: DingTalk answers 400102."));
    return item;
  }

  function copyRow(label, value, name) {
    const code = el("code", "howto-value", value);
    code.dataset.testid = `howto-${name}`;
    const button = el("button", "copy-button", "Copy");
    button.type = "button";
    button.dataset.testid = `copy-${name}`;
    button.setAttribute("aria-label", `Copy the ${label.toLowerCase()}`);
    button.addEventListener("click", () => copyFrom(code, button));
    return el("div", "howto-row", [el("span", "howto-label", label), code, button]);
  }

  // navigator.clipboard exists only in a secure context (loopback or https): beyond that,
  // or when the browser refuses, the text is selected so that Ctrl+C copies it.
  async function copyFrom(node, button) {
    let said = "Copied";
    try {
      await navigator.clipboard.writeText(node.textContent);
    } catch (error) {
      const range = document.createRange();
      range.selectNodeContents(node);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      said = document.execCommand("copy") ? "Copied" : "Selected: press Ctrl+C";
    }
    setText(button, said);
    clearTimeout(button.resetTimer);
    button.resetTimer = setTimeout(() => setText(button, "Copy"), 2000);
  }

  // One shell word, for POSIX shells: single quotes, with each ' written as '\''.
  function shellQuote(text) {
    return `'${text.replace(/'/g, "'\\''")}'`;
  }

  function appendMessages(messages, jumpToEnd) {
    if (messages.length === 0) return;
    const { scrollHeight, scrollTop, clientHeight } = ui.scroll;
    const wasNearBottom = scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX;
    const fragment = document.createDocumentFragment();
    for (const message of messages) fragment.append(messageElement(message));
    ui.messageList.append(fragment);
    ui.messagesEmpty.hidden = true;
    // Follow new messages unless the reader has scrolled up to read older ones.
    if (jumpToEnd || wasNearBottom) ui.scroll.scrollTop = ui.scroll.scrollHeight;
  }

  function messageElement(message) {
    const robot = String(message.robot || "robot");
    const item = el("li", "message");
    item.dataset.testid = "message";
    item.dataset.messageId = String(message.id);
    item.dataset.msgtype = String(message.msgtype || "");
    if (hidesAvatar(message.payload)) {
      item.classList.add("no-avatar");
    } else {
      const avatar = el("div", "avatar", initial(robot));
      avatar.setAttribute("aria-hidden", "true");
      paintAvatar(avatar, robot);
      item.append(avatar);
    }
    const time = el("time", "message-time", shortTime(message.received_at));
    time.dateTime = String(message.received_at || "");
    time.title = String(message.received_at || "");
    const bubble = el("div", "bubble");
    bubble.innerHTML = String(message.html || ""); // rendered and escaped server side
    item.append(el("div", "message-main", [
      el("div", "message-meta", [el("span", "sender", robot), time]),
      bubble,
    ]));
    return item;
  }

  function hidesAvatar(payload) {
    const card = payload && payload.msgtype === "actionCard" ? payload.actionCard : null;
    return Boolean(card) && String(card.hideAvatar) === "1";
  }

  // ---- rejections -------------------------------------------------------------

  async function pollRejections() {
    for (let page = 0; page < MAX_PAGES_PER_POLL; page += 1) {
      const data = await getJSON(`/_sandbox/rejections?${query({ after: state.rejectionCursor })}`);
      const received = Array.isArray(data.rejections) ? data.rejections : [];
      const fresh = received.filter((r) => typeof r.id === "number" && r.id > state.rejectionCursor);
      if (fresh.length === 0) break;
      state.rejectionCursor = fresh[fresh.length - 1].id;
      state.rejectionTotal += fresh.length;
      // Newest first: each batch goes on top, its own newest entry uppermost.
      const fragment = document.createDocumentFragment();
      for (const rejection of fresh.reverse()) fragment.append(rejectionElement(rejection));
      ui.rejectionList.prepend(fragment);
    }
    ui.rejectionsEmpty.hidden = state.rejectionTotal > 0;
    ui.rejectionsCount.hidden = state.rejectionTotal === 0;
    setText(ui.rejectionsCount, String(state.rejectionTotal));
  }

  function rejectionElement(rejection) {
    const item = el("li", "rejection");
    item.dataset.testid = "rejection";
    item.dataset.rejectionId = String(rejection.id);
    const who = rejection.robot
      ? el("span", "rejection-robot", String(rejection.robot))
      : el("span", "rejection-robot unknown", "unknown token");
    const time = el("time", "rejection-time", shortTime(rejection.received_at));
    time.dateTime = String(rejection.received_at || "");
    const head = el("div", "rejection-head", [
      time,
      who,
      rejection.group ? el("span", "rejection-group", `in ${rejection.group}`) : "",
      el("span", "rejection-code", `errcode ${rejection.errcode ?? "?"}`),
    ]);
    item.append(
      head,
      el("div", "rejection-errmsg", String(rejection.errmsg || "")),
      el("div", "rejection-reason", [
        el("span", "label", "reason "),
        el("span", "reason", String(rejection.reason || "")),
      ]),
    );
    if (rejection.body) {
      const details = el("details", "rejection-body", [
        el("summary", "", "Request body"),
        el("pre", "", String(rejection.body)),
      ]);
      item.append(details);
    }
    return item;
  }

  // ---- navigation -------------------------------------------------------------

  function groupHash(id) {
    return `#group=${encodeURIComponent(id)}`;
  }

  function groupFromHash() {
    const value = new URLSearchParams(location.hash.slice(1)).get("group");
    return value === null || value === "" ? null : value;
  }

  // The group list as a drawer, on screens too narrow for it beside the conversation.
  function openGroups(open) {
    ui.messagesPanel.classList.toggle("groups-open", open);
    ui.groupsToggle.setAttribute("aria-expanded", String(open));
  }

  function selectGroupFromHash() {
    const id = groupFromHash();
    if (id === null || id === state.selected) return;
    state.selected = id;
    renderConversation();
    renderGroupList();
    pollSoon();
  }

  // ---- views (tabs) -----------------------------------------------------------

  const views = new Map(); // name -> { tab, panel, poll?, always? }
  let activeView = "messages";
  // The hash the page was opened with (the first poll may replace it with a group's).
  const openedWith = viewFromHash();

  function viewFromHash() {
    return location.hash.slice(1).split(/[?&=]/)[0];
  }

  // A view polls only while it is shown, unless `always` (e.g. for a tab badge).
  function registerView(name, view) {
    views.set(name, view);
    view.tab.addEventListener("click", () => showTab(name));
    if (openedWith === name) showTab(name);
  }

  function showTab(name) {
    if (!views.has(name)) return;
    activeView = name;
    for (const [key, view] of views) {
      view.panel.hidden = key !== name;
      view.tab.setAttribute("aria-selected", String(key === name));
    }
    pollSoon();
  }

  // ---- small DOM helpers ------------------------------------------------------

  function el(tag, className, content) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (Array.isArray(content)) node.append(...content);
    else if (content !== undefined) node.textContent = content;
    return node;
  }

  // Writing only changed text keeps a selection or hover in the list from flickering.
  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  function initial(name) {
    const first = Array.from(name.trim())[0];
    return first ? first.toUpperCase() : "?";
  }

  const AVATAR_COLOURS = ["#3296fa", "#15bc83", "#ff943e", "#7a6ff0", "#f25643", "#00b7d8"];

  function paintAvatar(node, name) {
    let hash = 0;
    for (const char of name) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
    node.style.backgroundColor = AVATAR_COLOURS[hash % AVATAR_COLOURS.length];
  }

  function shortTime(iso) {
    const date = new Date(iso);
    if (!iso || Number.isNaN(date.getTime())) return String(iso || "");
    const pad = (n) => String(n).padStart(2, "0");
    const clock = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
    const today = new Date();
    if (date.toDateString() === today.toDateString()) return clock;
    return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clock}`;
  }

  // ---- start ------------------------------------------------------------------

  ui.groupsToggle.addEventListener("click", () => {
    openGroups(!ui.messagesPanel.classList.contains("groups-open"));
  });
  // Picking a group (even the open one), the close button, Escape or a tap beside the
  // drawer close it.
  ui.groupsClose.addEventListener("click", () => openGroups(false));
  ui.groupList.addEventListener("click", (event) => {
    if (event.target.closest(".group-link")) openGroups(false);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") openGroups(false);
  });
  ui.messagesPanel.querySelector(".conversation").addEventListener("click", (event) => {
    if (!ui.groupsToggle.contains(event.target)) openGroups(false);
  });
  registerView("messages", { tab: ui.messagesTab, panel: ui.messagesPanel });
  registerView("rejections", { tab: ui.rejectionsTab, panel: ui.rejectionsPanel });
  window.addEventListener("hashchange", () => {
    if (views.has(viewFromHash())) showTab(viewFromHash());
    else selectGroupFromHash();
  });
  window.dingkitSandbox = {
    el, setText, shortTime, getJSON, postJSON, registerView, pollSoon, UnreachableError,
  };
  state.selected = groupFromHash();
  renderConversation();
  poll();
})();
