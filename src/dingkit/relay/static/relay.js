// The relay's page: everything is written with textContent, never as HTML (what is shown
// comes from webhooks and from DingTalk's answers).
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("admin");
const headers = token ? { "X-Dingkit-Admin-Token": token } : {};
let shown = 0;  // when the state the tables show was read

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "";
}

function row(cells, className) {
  const tr = document.createElement("tr");
  for (const [text, kind] of cells) {
    const td = document.createElement("td");
    if (text instanceof Node) td.appendChild(text);
    else td.textContent = text === null || text === undefined ? "" : String(text);
    if (kind) td.className = kind;
    tr.appendChild(td);
  }
  if (className) tr.className = className;
  return tr;
}

function fill(id, rows, empty) {
  const body = document.querySelector(`#${id} tbody`);
  body.replaceChildren(...rows);
  if (!rows.length) {
    const tr = row([[empty, "empty"]]);
    tr.firstChild.colSpan = document.querySelectorAll(`#${id} th`).length;
    body.appendChild(tr);
  }
}

function state(robot) {
  if (!robot.held) return ["ok", "ok"];
  if (robot.held.until) return [`paused until ${when(robot.held.until)}: ${robot.held.reason}`, "paused"];
  return [`held: ${robot.held.reason}`, "held"];
}

async function replay(id) {
  try {
    const answer = await fetch(`/api/dead/${encodeURIComponent(id)}/replay`, {
      method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: "{}",
    });
    if (!answer.ok) {
      const said = await answer.json().catch(() => ({ error: `HTTP ${answer.status}` }));
      alert(`not replayed: ${said.error}`);
    }
  } catch (error) {
    alert(`not replayed: cannot reach the relay (${error.message})`);
  }
  await refresh();
}

async function refresh() {
  let answer;
  try {
    answer = await fetch("/api/state", { headers });
  } catch (error) {
    // Said rather than left to look current: the tables keep the last state the relay gave.
    const since = shown ? `; the tables are from ${when(shown)}` : "";
    document.getElementById("updated").textContent = `cannot reach the relay (${error.message})${since}`;
    return;
  }
  if (!answer.ok) {
    document.getElementById("updated").textContent = `cannot read the relay's state (HTTP ${answer.status})`;
    return;
  }
  const data = await answer.json();
  fill("robots", data.robots.map((r) => {
    const [text, kind] = state(r);
    return row([[r.name], [r.pool], [r.queued, "num"], [r.sent_last_minute, "num"], [r.delivered, "num"], [text, kind]]);
  }), "no robots configured");
  fill("recent", data.recent.map((d) => row([[when(d.at)], [d.robot], [d.route], [d.outcome], [d.answer], [d.id, "id"]])), "nothing delivered yet");
  fill("dead", data.dead.map((d) => {
    const button = document.createElement("button");
    button.textContent = "replay";
    button.dataset.id = d.id;
    button.addEventListener("click", () => replay(d.id));
    return row([[d.id, "id"], [d.robot], [d.route], [d.attempts, "num"], [d.error], [button]]);
  }), "no dead letters");
  fill("rejects", data.rejects.map((r) => row([[when(r.at)], [r.source], [r.route], [r.reason], [r.excerpt]])), "nothing refused");
  shown = data.now;
  document.getElementById("updated").textContent = `updated ${when(shown)}`;
}

refresh();
setInterval(refresh, 2000);
