// The Bots tab: people of the organisation talk to the app robots of [[bot]] (issue 12).
//
// On the left, the chats with bots (/_sandbox/conversations: every group a bot sits in and
// every 1:1 chat) and a form that opens a 1:1 chat between a bot and a person. On the
// right, the open chat, polled with an `after` cursor like the group messages, and a
// composer: who writes (anyone in a group; the chat's person in a 1:1 chat), the text and,
// in a group, the bots it mentions (toggle buttons, or "@name" typed in the text, taken
// out of it as DingTalk gives a robot the text after its mention). A person's message is
// set as text; a robot's reply is the bubble HTML the server renders (and escapes) for the
// group messages too, an OpenAPI template drawn as the message it stands for, a card as its
// text, read again until it is finished (cards are rewritten in place as they stream).
"use strict";

(() => {
  const page = window.dingkitSandbox;
  if (!page) return;
  const { el, setText, shortTime, getJSON, postJSON, registerView, pollSoon } = page;
  const $ = (id) => document.getElementById(id);
  const PAGE_SIZE = 200;
  const MAX_PAGES_PER_POLL = 10;
  const NEAR_BOTTOM_PX = 80;
  // People change rarely (org edits); their list is asked for again every so many polls.
  const PEOPLE_EVERY = 10;

  const ui = {
    tab: $("bots-tab"),
    panel: $("bots-panel"),
    close: $("bots-close"),
    toggle: $("bots-toggle"),
    openForm: $("bots-open"),
    openBot: $("bots-open-bot"),
    openPerson: $("bots-open-person"),
    openError: $("bots-open-error"),
    chatList: $("bots-chat-list"),
    none: $("bots-none"),
    chatName: $("bots-chat-name"),
    chatRobots: $("bots-chat-robots"),
    scroll: $("bots-scroll"),
    messages: $("bots-message-list"),
    empty: $("bots-messages-empty"),
    composer: $("bots-composer"),
    person: $("bots-person"),
    mentions: $("bots-mentions"),
    text: $("bots-text"),
    send: $("bots-send"),
    status: $("bots-status"),
  };

  const state = {
    bots: [], // from /_sandbox/bots
    people: [], // [{userid, name}]
    peopleAge: PEOPLE_EVERY,
    chats: [], // from /_sandbox/conversations
    selected: null, // conversation id
    thread: null, // { id, cursor, count }
    mentioned: new Set(), // bot names toggled on in the composer
    sending: false,
  };

  // ---- polling ----------------------------------------------------------------

  async function poll() {
    const bots = await getJSON("/_sandbox/bots");
    state.bots = Array.isArray(bots.bots) ? bots.bots : [];
    if (state.peopleAge >= PEOPLE_EVERY) {
      const people = await getJSON("/_sandbox/people?limit=500");
      state.people = Array.isArray(people.people) ? people.people : [];
      state.peopleAge = 0;
    }
    state.peopleAge += 1;
    const chats = await getJSON("/_sandbox/conversations");
    state.chats = Array.isArray(chats.conversations) ? chats.conversations : [];
    if (state.selected === null && state.chats.length > 0) state.selected = String(state.chats[0].id);
    renderPickers();
    renderChatList();
    renderHeader();
    await pollMessages();
  }

  async function pollMessages() {
    const id = state.selected;
    if (id === null || !chat(id)) {
      renderEmpty();
      return;
    }
    if (!state.thread || state.thread.id !== id) {
      // cards: id -> { item, signature } of each card shown that may still change.
      state.thread = { id, cursor: 0, count: 0, loaded: false, cards: new Map() };
      ui.messages.replaceChildren();
    }
    const thread = state.thread;
    for (let page = 0; page < MAX_PAGES_PER_POLL; page += 1) {
      const params = new URLSearchParams({ after: thread.cursor, limit: PAGE_SIZE });
      const data = await getJSON(`/_sandbox/conversations/${encodeURIComponent(id)}/messages?${params}`);
      if (state.thread !== thread) return; // another chat was opened meanwhile
      const received = Array.isArray(data.messages) ? data.messages : [];
      const fresh = received.filter((m) => typeof m.id === "number" && m.id > thread.cursor);
      if (fresh.length) {
        thread.cursor = fresh[fresh.length - 1].id;
        thread.count += fresh.length;
        append(fresh, !thread.loaded);
      }
      if (received.length < PAGE_SIZE) break;
    }
    thread.loaded = true;
    renderEmpty();
    await pollCards(thread);
  }

  // A card is rewritten in place as it is updated or streamed into: the cards shown that
  // are not finished are read again (from the oldest of them on) until they are.
  async function pollCards(thread) {
    if (thread.cards.size === 0) return;
    let after = Math.min(...thread.cards.keys()) - 1;
    for (let page = 0; page < MAX_PAGES_PER_POLL && thread.cards.size; page += 1) {
      const params = new URLSearchParams({ after, limit: PAGE_SIZE });
      const data = await getJSON(`/_sandbox/conversations/${encodeURIComponent(thread.id)}/messages?${params}`);
      if (state.thread !== thread) return;
      const received = Array.isArray(data.messages) ? data.messages : [];
      for (const message of received) {
        const shown = thread.cards.get(message.id);
        if (!shown) continue;
        const signature = JSON.stringify(message);
        if (signature !== shown.signature) {
          const item = messageElement(message);
          shown.item.replaceWith(item);
          shown.item = item;
          shown.signature = signature;
        }
        if (cardDone(message)) thread.cards.delete(message.id);
      }
      if (received.length < PAGE_SIZE) break;
      after = received[received.length - 1].id;
    }
  }

  function cardDone(message) {
    return !(message.card && typeof message.card === "object") || message.card.finished === true;
  }

  // ---- names ------------------------------------------------------------------

  function chat(id) {
    return state.chats.find((c) => String(c.id) === id) || null;
  }

  function botByCode(code) {
    return state.bots.find((b) => String(b.robot_code) === String(code)) || null;
  }

  function botName(code) {
    const bot = botByCode(code);
    return bot ? String(bot.name) : String(code || "robot");
  }

  function personName(userid) {
    const person = state.people.find((p) => String(p.userid) === String(userid));
    return person ? String(person.name || person.userid) : String(userid || "");
  }

  function chatTitle(c) {
    const codes = Array.isArray(c.robot_codes) ? c.robot_codes : [];
    if (c.type === "single") {
      const members = Array.isArray(c.members) ? c.members : [];
      return `${codes.map(botName).join(", ")} · ${members.map(personName).join(", ")}`;
    }
    return String(c.title || c.id);
  }

  // The bots of a chat, as [[bot]] names: those a message can mention.
  function chatBots(c) {
    const codes = Array.isArray(c.robot_codes) ? c.robot_codes.map(String) : [];
    return state.bots.filter((b) => codes.includes(String(b.robot_code)));
  }

  // ---- the chat list and the pickers --------------------------------------------

  // A <select>'s options, rebuilt only when they change (a poll must not close it).
  function fillSelect(select, options) {
    const signature = JSON.stringify(options);
    if (select.dataset.signature === signature) return;
    const kept = select.value;
    select.replaceChildren(...options.map(([value, label]) => {
      const option = el("option", "", label);
      option.value = value;
      return option;
    }));
    select.dataset.signature = signature;
    if (options.some(([value]) => value === kept)) select.value = kept;
  }

  function renderPickers() {
    const people = state.people.map((p) => [String(p.userid), `${p.name || p.userid} (${p.userid})`]);
    fillSelect(ui.openBot, state.bots.map((b) => [String(b.name), `${b.name} (${b.mode})`]));
    fillSelect(ui.openPerson, people);
    const c = state.selected === null ? null : chat(state.selected);
    if (c && c.type === "single") {
      // In a 1:1 chat only its person writes.
      const members = Array.isArray(c.members) ? c.members.map(String) : [];
      fillSelect(ui.person, members.map((m) => [m, `${personName(m)} (${m})`]));
      ui.person.disabled = true;
    } else {
      fillSelect(ui.person, people);
      ui.person.disabled = false;
    }
    ui.none.hidden = state.bots.length > 0;
    ui.openForm.hidden = state.bots.length === 0;
  }

  function renderChatList() {
    const existing = new Map();
    for (const item of ui.chatList.children) existing.set(item.dataset.chatId, item);
    state.chats.forEach((c, index) => {
      const id = String(c.id);
      let item = existing.get(id);
      existing.delete(id);
      if (!item) item = chatItem(id);
      const title = chatTitle(c);
      const avatar = item.querySelector(".group-avatar");
      setText(avatar, initialOf(title));
      paint(avatar, title);
      setText(item.querySelector(".group-name"), title);
      setText(item.querySelector(".group-tag"), c.type === "single" ? "1:1" : "group");
      setText(item.querySelector(".group-preview"), `Bots: ${chatBots(c).map((b) => b.name).join(", ") || "none"}`);
      item.dataset.chatType = String(c.type);
      item.classList.toggle("selected", id === state.selected);
      item.querySelector(".group-link").setAttribute("aria-current", String(id === state.selected));
      if (ui.chatList.children[index] !== item) {
        ui.chatList.insertBefore(item, ui.chatList.children[index] || null);
      }
    });
    for (const stale of existing.values()) stale.remove();
  }

  function chatItem(id) {
    const item = el("li", "group-item");
    item.dataset.testid = "bots-chat";
    item.dataset.chatId = id;
    const link = el("button", "group-link bots-chat-link");
    link.type = "button";
    link.append(
      el("span", "avatar group-avatar"),
      el("span", "group-text", [
        el("span", "group-line", [el("span", "group-name"), el("span", "group-tag bots-tag")]),
        el("span", "group-line", [el("span", "group-preview")]),
      ]),
    );
    link.addEventListener("click", () => {
      select(id);
      openDrawer(false);
    });
    item.append(link);
    return item;
  }

  function renderHeader() {
    const c = state.selected === null ? null : chat(state.selected);
    ui.composer.hidden = c === null;
    if (!c) {
      setText(ui.chatName, state.chats.length ? "Pick a chat" : "No chat open");
      setText(ui.chatRobots, "");
      ui.mentions.replaceChildren();
      return;
    }
    setText(ui.chatName, chatTitle(c));
    const bots = chatBots(c);
    setText(ui.chatRobots, c.type === "single"
      ? "A 1:1 chat: the bot gets every message."
      : `Bots: ${bots.map((b) => b.name).join(", ") || "none"}. A bot gets a message that mentions it.`);
    renderMentions(c.type === "single" ? [] : bots);
  }

  function renderMentions(bots) {
    const names = bots.map((b) => String(b.name));
    for (const name of [...state.mentioned]) if (!names.includes(name)) state.mentioned.delete(name);
    const signature = JSON.stringify(names);
    if (ui.mentions.dataset.signature !== signature) {
      ui.mentions.dataset.signature = signature;
      ui.mentions.replaceChildren(...names.map((name) => {
        const button = el("button", "mention-toggle", `@${name}`);
        button.type = "button";
        button.dataset.testid = "bots-mention";
        button.dataset.bot = name;
        button.addEventListener("click", () => {
          if (state.mentioned.has(name)) state.mentioned.delete(name);
          else state.mentioned.add(name);
          renderMentionState();
        });
        return button;
      }));
    }
    ui.mentions.hidden = names.length === 0;
    renderMentionState();
  }

  function renderMentionState() {
    for (const button of ui.mentions.children) {
      button.setAttribute("aria-pressed", String(state.mentioned.has(button.dataset.bot)));
    }
  }

  function renderEmpty() {
    const thread = state.thread;
    ui.empty.hidden = !(thread && thread.id === state.selected && thread.loaded && thread.count === 0);
  }

  function select(id) {
    if (state.selected === id) return;
    state.selected = id;
    state.mentioned.clear();
    state.thread = null;
    ui.messages.replaceChildren();
    ui.empty.hidden = true;
    setText(ui.status, "");
    renderPickers();
    renderChatList();
    renderHeader();
    pollSoon();
  }

  // ---- messages -----------------------------------------------------------------

  function append(messages, jumpToEnd) {
    const { scrollHeight, scrollTop, clientHeight } = ui.scroll;
    const wasNearBottom = scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX;
    const fragment = document.createDocumentFragment();
    for (const message of messages) {
      const item = messageElement(message);
      if (message.via === "card" && !cardDone(message) && state.thread) {
        state.thread.cards.set(message.id, { item, signature: JSON.stringify(message) });
      }
      fragment.append(item);
    }
    ui.messages.append(fragment);
    if (jumpToEnd || wasNearBottom) ui.scroll.scrollTop = ui.scroll.scrollHeight;
  }

  const VIA = {
    response: "reply in the response",
    session: "reply through the session webhook",
    oto: "OpenAPI: oToMessages/batchSend",
    group: "OpenAPI: groupMessages/send",
  };
  const CARD_STATUS = {
    sent: "card",
    processing: "card · processing…",
    inputing: "card · streaming…",
    executing: "card · executing…",
    finished: "card · finished",
    failed: "card · failed",
  };

  function messageElement(message) {
    const via = String(message.via || "");
    const item = el("li", "message bots-message");
    item.dataset.testid = "bots-message";
    item.dataset.via = via;
    item.dataset.messageId = String(message.id);
    const time = el("time", "message-time", shortTime(isoOf(message.sent_ms)));
    time.dateTime = isoOf(message.sent_ms);
    const who = via === "person" ? personName(message.sender) : botName(message.robot_code);
    const avatar = el("div", "avatar", initialOf(who));
    avatar.setAttribute("aria-hidden", "true");
    paint(avatar, who);
    const meta = el("div", "message-meta", [el("span", "sender", who), time]);
    const bubble = el("div", "bubble");
    if (via === "person") {
      item.classList.add("from-person");
      const at = Array.isArray(message.at) ? message.at : [];
      const body = el("div", "dt-msg dt-msg-text person-msg");
      for (const code of at) body.append(el("span", "mention", `@${botName(code)}`), " ");
      body.append(el("span", "dt-text", String(message.text || "")));
      bubble.append(body);
    } else if (via === "undelivered") {
      item.classList.add("undelivered");
      bubble.append(el("div", "bots-undelivered", [
        el("span", "bots-undelivered-label", "Not delivered: "),
        el("span", "bots-reason", String(message.reason || "")),
      ]));
      bubble.dataset.testid = "bots-undelivered";
    } else {
      if (VIA[via]) meta.append(el("span", "bots-via", VIA[via]));
      if (via === "card") {
        const card = message.card && typeof message.card === "object" ? message.card : {};
        const status = String(card.status || "sent");
        item.dataset.cardStatus = status;
        item.classList.toggle("card-failed", card.failed === true);
        meta.append(el("span", "bots-via", CARD_STATUS[status] || `card · ${status}`));
      }
      if (typeof message.html === "string") {
        bubble.innerHTML = message.html; // rendered and escaped server side (robot/render.py)
      } else {
        bubble.append(el("div", "dt-msg", `(${via || "message"})`));
      }
    }
    item.append(avatar, el("div", "message-main", [meta, bubble]));
    return item;
  }

  function isoOf(ms) {
    return typeof ms === "number" ? new Date(ms).toISOString() : "";
  }

  // ---- writing ----------------------------------------------------------------------

  // "@name" of a bot of this chat, typed in the text: a mention, taken out of the text.
  function takeMentions(text, bots) {
    const at = new Set(state.mentioned);
    let rest = text;
    for (const bot of bots) {
      const name = String(bot.name);
      const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      const pattern = new RegExp(`(^|\\s)@${escaped}(?=\\s|$)`, "g");
      if (pattern.test(rest)) {
        at.add(name);
        rest = rest.replace(pattern, "$1");
      }
    }
    return { at: [...at], text: rest.trim() };
  }

  async function send() {
    const c = state.selected === null ? null : chat(state.selected);
    if (!c || state.sending) return;
    const bots = c.type === "single" ? [] : chatBots(c);
    const { at, text } = takeMentions(ui.text.value, bots);
    if (!text) {
      say("Write something to send.", true);
      return;
    }
    state.sending = true;
    ui.send.disabled = true;
    try {
      const path = `/_sandbox/conversations/${encodeURIComponent(c.id)}/messages`;
      const answer = await postJSON(path, { sender: ui.person.value, text, at });
      if (!answer.ok) {
        say((answer.data && answer.data.error) || `HTTP ${answer.status}`, true);
        return;
      }
      ui.text.value = "";
      state.mentioned.clear();
      renderMentionState();
      const to = Array.isArray(answer.data.delivered_to) ? answer.data.delivered_to : [];
      say(to.length ? `Sent to ${to.join(", ")}.`
        : "Sent; no bot was mentioned, so no bot got it.", false);
      pollSoon();
    } catch (error) {
      say("The sandbox could not be reached; the message was not sent.", true);
    } finally {
      state.sending = false;
      ui.send.disabled = false;
    }
  }

  function say(text, error) {
    setText(ui.status, text);
    ui.status.classList.toggle("error", error);
  }

  async function openChat() {
    ui.openError.hidden = true;
    try {
      const answer = await postJSON("/_sandbox/conversations", {
        bot: ui.openBot.value,
        user: ui.openPerson.value,
      });
      if (!answer.ok || !answer.data || typeof answer.data.id !== "string") {
        setText(ui.openError, (answer.data && answer.data.error) || `HTTP ${answer.status}`);
        ui.openError.hidden = false;
        return;
      }
      if (!chat(answer.data.id)) state.chats.push(answer.data);
      select(answer.data.id);
      openDrawer(false);
      ui.text.focus();
    } catch (error) {
      setText(ui.openError, "The sandbox could not be reached.");
      ui.openError.hidden = false;
    }
  }

  // ---- small helpers ----------------------------------------------------------------

  function initialOf(name) {
    const first = Array.from(String(name).trim())[0];
    return first ? first.toUpperCase() : "?";
  }

  const COLOURS = ["#3296fa", "#15bc83", "#ff943e", "#7a6ff0", "#f25643", "#00b7d8"];

  function paint(node, name) {
    let hash = 0;
    for (const char of String(name)) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
    node.style.backgroundColor = COLOURS[hash % COLOURS.length];
  }

  // The chat list as a drawer on narrow screens (the .chat rules of chat.css).
  function openDrawer(open) {
    ui.panel.classList.toggle("groups-open", open);
    ui.toggle.setAttribute("aria-expanded", String(open));
  }

  // ---- start ------------------------------------------------------------------------

  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  ui.text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
  ui.openForm.addEventListener("submit", (event) => {
    event.preventDefault();
    openChat();
  });
  ui.toggle.addEventListener("click", () => openDrawer(!ui.panel.classList.contains("groups-open")));
  ui.close.addEventListener("click", () => openDrawer(false));
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") openDrawer(false);
  });
  ui.panel.querySelector(".conversation").addEventListener("click", (event) => {
    if (!ui.toggle.contains(event.target)) openDrawer(false);
  });
  registerView("bots", { tab: ui.tab, panel: ui.panel, poll });
})();
