// The sandbox page's server-API views, as tabs next to the chat (chat.js):
//
// - Approvals: every approval instance with its form and tasks; a pending task can be
//   approved or refused here, as its approver would in DingTalk (POST
//   /_sandbox/approvals/{id}/tasks/{taskId}, the same state machine as the API's execute),
//   or handed over to someone else (.../redirect: DingTalk documents no API for that).
// - Work notifications: what apps sent with asyncsend_v2, to how many people.
// - Apps: every app with its grants (permission points, visible range, callers, quota).
//
// Lists are keyed by id and an entry is rebuilt only when its JSON changed, so a poll
// never pulls a button from under the pointer. Message HTML comes escaped from the server.
"use strict";

(() => {
  const page = window.dingkitSandbox;
  if (!page) return;
  const { el, setText, shortTime, getJSON, postJSON, registerView, pollSoon } = page;
  const $ = (id) => document.getElementById(id);

  // Keeps <ol> children in server order, rebuilding an entry only when it changed.
  function keyedList(list, make) {
    const entries = new Map(); // key -> { item, signature }
    return (records, keyOf, fill) => {
      const seen = new Set();
      records.forEach((record, index) => {
        const key = String(keyOf(record));
        seen.add(key);
        let entry = entries.get(key);
        if (!entry) {
          entry = { item: make(key), signature: "" };
          entries.set(key, entry);
        }
        const signature = JSON.stringify(record);
        if (entry.signature !== signature) {
          fill(entry.item, record);
          entry.signature = signature;
        }
        if (list.children[index] !== entry.item) {
          list.insertBefore(entry.item, list.children[index] || null);
        }
      });
      for (const [key, entry] of entries) {
        if (!seen.has(key)) {
          entry.item.remove();
          entries.delete(key);
        }
      }
      return (key, record) => {
        const entry = entries.get(String(key));
        if (entry) {
          fill(entry.item, record);
          entry.signature = JSON.stringify(record);
        }
      };
    };
  }

  // ---- approvals --------------------------------------------------------------

  const approvals = {
    tab: $("approvals-tab"),
    panel: $("approvals-panel"),
    list: $("approval-list"),
    empty: $("approvals-empty"),
    count: $("approvals-count"),
  };
  let replaceApproval = () => {};
  const renderApprovals = keyedList(approvals.list, (key) => {
    const item = el("li", "approval");
    item.dataset.testid = "approval";
    item.dataset.instanceId = key;
    return item;
  });

  async function pollApprovals() {
    const data = await getJSON("/_sandbox/approvals");
    const found = Array.isArray(data.approvals) ? data.approvals : [];
    replaceApproval = renderApprovals(found, (a) => a.instance_id, fillApproval);
    approvals.empty.hidden = found.length > 0;
    const pending = found.filter((a) => a.status === "RUNNING").length;
    approvals.count.hidden = pending === 0;
    setText(approvals.count, String(pending));
    approvals.count.title = `${pending} running approval${pending === 1 ? "" : "s"}`;
  }

  // Statuses as DingTalk's approval page words them (审批中, 已同意, 已拒绝, 已撤销), with
  // English beside; the API's values stay in the tooltip. The words for a task not yet
  // reached, handed over or made moot by another OR approver are [I]: the protocol note
  // (§3.6) gives only the API's values. Anything unforeseen shows as the API wrote it.
  const INSTANCE_WORDS = {
    NEW: ["审批中", "In progress"],
    RUNNING: ["审批中", "In progress"],
    "COMPLETED agree": ["已同意", "Approved"],
    "COMPLETED refuse": ["已拒绝", "Rejected"],
    TERMINATED: ["已撤销", "Withdrawn"],
    CANCELED: ["已撤销", "Withdrawn"],
  };
  const TASK_WORDS = {
    NEW: ["未开始", "Not reached"],
    RUNNING: ["审批中", "Pending"],
    "COMPLETED AGREE": ["已同意", "Approved"],
    "COMPLETED REFUSE": ["已拒绝", "Rejected"],
    "COMPLETED REDIRECTED": ["已转交", "Redirected"],
    CANCELED: ["已取消", "Canceled"],
    TERMINATED: ["已撤销", "Withdrawn"],
  };

  function apiStatus(record) {
    const result = record.result && record.result !== "NONE" ? ` · ${record.result}` : "";
    return `${record.status || ""}${result}`;
  }

  function statusWords(record, words) {
    const status = String(record.status || "");
    const found = words[`${status} ${record.result || ""}`] || words[status];
    return found ? `${found[0]} ${found[1]}` : apiStatus(record);
  }

  function remarkLine(remark) {
    const line = el("div", "approval-remark-shown", [
      el("span", "remark-label", "意见 Remark "),
      el("span", "remark-text", String(remark)),
    ]);
    line.dataset.testid = "remark";
    return line;
  }

  function fillApproval(item, approval) {
    item.dataset.status = String(approval.status || "");
    item.dataset.result = String(approval.result || "");
    const originator = approval.originator || {};
    const status = el("span", `approval-status status-${String(approval.status).toLowerCase()}`,
      statusWords(approval, INSTANCE_WORDS));
    status.title = apiStatus(approval);
    status.dataset.testid = "approval-status";
    status.dataset.result = String(approval.result || "");
    const head = el("div", "approval-head", [
      el("span", "approval-title", String(approval.title || approval.process_name || "")),
      status,
    ]);
    const meta = el("div", "approval-meta", [
      el("span", "approval-originator", `${originator.name || ""} (${originator.userid || ""})`),
      el("span", "", String(approval.dept_name || "")),
      el("span", "", `${approval.process_name || ""} ${approval.process_code || ""}`),
      el("span", "", `No. ${approval.business_id || ""}`),
      el("time", "", shortTime(approval.create_time)),
    ]);
    const form = el("dl", "approval-form");
    for (const field of Array.isArray(approval.form) ? approval.form : []) {
      form.append(el("dt", "", String(field.label || "")), el("dd", "", String(field.value || "")));
    }
    const tasks = el("ol", "approval-tasks");
    const running = [];
    for (const task of Array.isArray(approval.tasks) ? approval.tasks : []) {
      const taskStatus = el("span", "task-status", statusWords(task, TASK_WORDS));
      taskStatus.title = apiStatus(task);
      const row = el("li", `approval-task task-${String(task.status).toLowerCase()}`, [
        el("span", "task-node", `#${task.node}`),
        el("span", "task-name", String(task.name || task.userid || "")),
        el("span", "task-userid", String(task.userid || "")),
        taskStatus,
      ]);
      row.dataset.testid = "approval-task";
      row.dataset.taskId = String(task.task_id);
      // DingTalk shows an approver's remark under them in the instance's timeline.
      if (task.remark) row.append(remarkLine(task.remark));
      if (task.status === "RUNNING") {
        running.push(task);
        const approve = el("button", "task-button approve", "Approve");
        approve.type = "button";
        approve.dataset.testid = "approve-button";
        approve.addEventListener("click", () => act(approval, task, "agree", item));
        const refuse = el("button", "task-button refuse", "Refuse");
        refuse.type = "button";
        refuse.dataset.testid = "refuse-button";
        refuse.addEventListener("click", () => act(approval, task, "refuse", item));
        const hand = el("button", "task-button", "Redirect");
        hand.type = "button";
        hand.dataset.testid = "redirect-button";
        hand.title = "Hand this task over to the userid typed below";
        hand.addEventListener("click", () => act(approval, task, "redirect", item));
        row.append(el("span", "task-actions", [approve, refuse, hand]));
      }
      tasks.append(row);
    }
    const parts = [head, meta, form, tasks];
    // A withdrawal's reason belongs to the instance, not to any approver's task.
    const records = Array.isArray(approval.records) ? approval.records : [];
    const withdrawal = records.find((r) => r.type === "TERMINATE_PROCESS_INSTANCE" && r.remark);
    if (withdrawal) parts.push(remarkLine(withdrawal.remark));
    if (running.length > 0) {
      const remark = el("input", "approval-remark");
      remark.placeholder = "Remark (optional)";
      remark.maxLength = 1024;
      const target = el("input", "approval-redirect");
      target.placeholder = "Redirect to userid";
      target.maxLength = 64;
      target.dataset.testid = "redirect-to";
      parts.push(remark, target);
    }
    parts.push(el("div", "approval-error"));
    item.replaceChildren(...parts);
  }

  async function act(approval, task, result, item) {
    const buttons = item.querySelectorAll("button");
    for (const button of buttons) button.disabled = true;
    const remarkInput = item.querySelector(".approval-remark");
    const body = result === "redirect" ? {} : { result };
    if (remarkInput && remarkInput.value.trim()) body.remark = remarkInput.value.trim();
    let path = `/_sandbox/approvals/${encodeURIComponent(approval.instance_id)}` +
      `/tasks/${encodeURIComponent(task.task_id)}`;
    if (result === "redirect") {
      const target = item.querySelector(".approval-redirect");
      body.to = target ? target.value.trim() : "";
      path += "/redirect";
    }
    let answer;
    try {
      answer = await postJSON(path, body);
    } catch (error) {
      answer = { ok: false, data: { error: "The sandbox is unreachable." } };
    }
    if (answer.ok && answer.data && answer.data.approval) {
      replaceApproval(approval.instance_id, answer.data.approval);
      pollSoon();
      return;
    }
    for (const button of buttons) button.disabled = false;
    const message = answer.data && answer.data.error ? answer.data.error : "The action failed.";
    setText(item.querySelector(".approval-error"), String(message));
  }

  // ---- work notifications ------------------------------------------------------

  const notices = {
    tab: $("notifications-tab"),
    panel: $("notifications-panel"),
    list: $("notification-list"),
    empty: $("notifications-empty"),
  };
  const renderNotices = keyedList(notices.list, (key) => {
    const item = el("li", "notification");
    item.dataset.testid = "notification";
    item.dataset.taskId = key;
    return item;
  });

  async function pollNotifications() {
    const data = await getJSON("/_sandbox/notifications");
    const found = Array.isArray(data.notifications) ? data.notifications : [];
    renderNotices(found, (n) => n.task_id, fillNotification);
    notices.empty.hidden = found.length > 0;
  }

  function fillNotification(item, notice) {
    const count = Number(notice.recipient_count) || 0;
    const people = Array.isArray(notice.recipients) ? notice.recipients : [];
    const names = people.slice(0, 5).map((p) => p.name || p.userid).join(", ");
    const more = count > 5 ? ` and ${count - 5} more` : "";
    const recipients = el("div", "notification-recipients",
      `${count} recipient${count === 1 ? "" : "s"}${names ? `: ${names}${more}` : ""}`);
    recipients.dataset.testid = "notification-recipients";
    const head = el("div", "notification-head", [
      el("time", "notification-time", shortTime(notice.sent_at)),
      el("span", "notification-app", `${notice.app || ""} (agent ${notice.agent_id})`),
      el("span", "notification-type", String(notice.msgtype || "")),
      el("span", "notification-task", `task ${notice.task_id}`),
      notice.recalled_at ? el("span", "notification-recalled", "recalled") : "",
    ]);
    const problems = [];
    const invalid = notice.invalid_user_id_list || [];
    if (invalid.length) problems.push(`invalid userIds: ${invalid.join(", ")}`);
    const badDepts = notice.invalid_dept_id_list || [];
    if (badDepts.length) problems.push(`invalid departments: ${badDepts.join(", ")}`);
    const forbidden = notice.forbidden_user_id_list || [];
    if (forbidden.length) problems.push(`not delivered again today: ${forbidden.length}`);
    const bubble = el("div", "bubble");
    bubble.innerHTML = String(notice.html || ""); // rendered and escaped server side
    item.classList.toggle("recalled", Boolean(notice.recalled_at));
    item.replaceChildren(
      head,
      recipients,
      problems.length ? el("div", "notification-problems", problems.join(" · ")) : "",
      bubble,
    );
  }

  // ---- apps -------------------------------------------------------------------

  const apps = {
    tab: $("apps-tab"),
    panel: $("apps-panel"),
    list: $("app-list"),
    empty: $("apps-empty"),
  };
  const renderApps = keyedList(apps.list, (key) => {
    const item = el("li", "app");
    item.dataset.testid = "app";
    item.dataset.appName = key;
    return item;
  });

  async function pollApps() {
    const data = await getJSON("/_sandbox/apps");
    const found = Array.isArray(data.apps) ? data.apps : [];
    renderApps(found, (a) => a.name, fillApp);
    apps.empty.hidden = found.length > 0;
  }

  function fillApp(item, app) {
    const scopes = Array.isArray(app.scopes) ? app.scopes : null;
    const scopeList = el("ul", "app-scopes");
    scopeList.dataset.testid = "app-scopes";
    if (scopes === null) {
      scopeList.append(el("li", "app-scope all", "every permission"));
    } else if (scopes.length === 0) {
      scopeList.append(el("li", "app-scope none", "no permission"));
    } else {
      for (const scope of scopes) scopeList.append(el("li", "app-scope", String(scope)));
    }
    const facts = [];
    const depts = Array.isArray(app.visible_depts) ? app.visible_depts : null;
    facts.push(depts === null ? "sees the whole organisation" : `sees departments ${depts.join(", ")}`);
    const callers = Array.isArray(app.ip_allowlist) ? app.ip_allowlist : [];
    facts.push(callers.length ? `calls from ${callers.join(", ")}` : "calls from anywhere");
    facts.push(app.monthly_quota == null ? "no monthly quota" : `${app.monthly_quota} calls a month`);
    if (app.failure_mode) facts.push(`failure mode: ${app.failure_mode}`);
    item.replaceChildren(
      el("div", "app-head", [
        el("span", "app-name", String(app.name)),
        el("span", "app-key", String(app.app_key)),
        el("span", "app-agent", `agent ${app.agent_id}`),
      ]),
      scopeList,
      el("div", "app-facts", facts.join(" · ")),
    );
  }

  registerView("apps", { ...apps, poll: pollApps });
  registerView("approvals", { ...approvals, poll: pollApprovals, always: true });
  registerView("notifications", { ...notices, poll: pollNotifications });
  pollSoon();
})();
