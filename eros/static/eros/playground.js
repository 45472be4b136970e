// eros playground: talks to the public /comp API with a bearer token, like any client.
// Replies come from POST /comp/chat/{id}/message/stream (server-sent events read with fetch,
// since EventSource cannot POST). Optional routes (affinity debug, memories, profile,
// history) are shown when they answer and described when they do not.
"use strict";

(() => {
  const AXES = ["warmth", "trust", "intrigue", "intimacy", "patience", "tension"];
  const config = JSON.parse(document.getElementById("playground-config").textContent);
  const $ = (id) => document.getElementById(id);

  const state = {
    token: config.token || sessionStorage.getItem("eros-playground-token"),
    userId: config.user_id,
    personas: [],
    sessionId: null,
    sending: false,
    previousAxes: null,
  };

  // --- HTTP --------------------------------------------------------------------------------

  function headers(extra) {
    return Object.assign({ Authorization: `Bearer ${state.token}` }, extra || {});
  }

  async function getJson(path) {
    const response = await fetch(path, { headers: headers() });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    return { ok: response.ok, status: response.status, body };
  }

  async function postJson(path, payload) {
    const response = await fetch(path, {
      method: "POST",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(payload),
    });
    const body = await response.json().catch(() => null);
    return { ok: response.ok, status: response.status, body };
  }

  function problem(result) {
    if (result.body && result.body.message) return result.body.message;
    return `HTTP ${result.status}`;
  }

  // Server-sent events from a fetch response: yields {name, data} as blocks arrive.
  async function* readEvents(response) {
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (value) buffer += decoder.decode(value, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        let name = "message";
        const data = [];
        for (const line of block.split("\n")) {
          if (!line || line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          let text = colon < 0 ? "" : line.slice(colon + 1);
          if (text.startsWith(" ")) text = text.slice(1);
          if (field === "event") name = text;
          else if (field === "data") data.push(text);
        }
        if (data.length) yield { name, data: JSON.parse(data.join("\n")) };
      }
      if (done) return;
    }
  }

  // --- auth --------------------------------------------------------------------------------

  function subjectOf(token) {
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part)).sub || null;
    } catch (_) {
      return null;
    }
  }

  function showWho() {
    $("who").textContent = state.userId ? `user ${state.userId}` : "no token";
  }

  function askForToken(message) {
    $("auth").hidden = false;
    if (message) $("auth").querySelector("p").textContent = message;
  }

  $("token-save").addEventListener("click", () => {
    const token = $("token-input").value.trim();
    if (!token) return;
    state.token = token;
    state.userId = subjectOf(token);
    sessionStorage.setItem("eros-playground-token", token);
    $("auth").hidden = true;
    showWho();
    loadPersonas();
  });

  // --- personas and sessions ---------------------------------------------------------------

  async function loadProviders() {
    const result = await fetch("/healthz").then((r) => r.json()).catch(() => null);
    if (result && result.providers) {
      $("providers").textContent =
        `chat: ${result.providers.chat} · embeddings: ${result.providers.embeddings}`;
    }
  }

  async function loadPersonas() {
    const result = await getJson("/comp/personas");
    if (result.status === 401) {
      askForToken("The token was refused. Paste a valid bearer token.");
      return;
    }
    if (!result.ok) {
      $("persona-tip").textContent = `Could not list personas: ${problem(result)}`;
      return;
    }
    state.personas = result.body.personas || [];
    const select = $("persona-select");
    select.replaceChildren();
    for (const persona of state.personas) {
      const option = document.createElement("option");
      option.value = persona.id;
      option.textContent = persona.name;
      select.append(option);
    }
    select.disabled = state.personas.length === 0;
    $("start").disabled = state.personas.length === 0;
    if (!state.personas.length) $("persona-tip").textContent = "No personas are seeded.";
    showTip();
  }

  function showTip() {
    const persona = state.personas.find((p) => p.id === $("persona-select").value);
    $("persona-tip").textContent = persona ? persona.tip_personality || "" : "";
  }

  $("persona-select").addEventListener("change", showTip);

  $("start").addEventListener("click", async () => {
    $("start").disabled = true;
    const result = await postJson("/comp/chat/start", { genome_id: $("persona-select").value });
    $("start").disabled = false;
    if (!result.ok) {
      $("session-info").textContent = `Could not start: ${problem(result)}`;
      return;
    }
    state.sessionId = result.body.session_id;
    state.previousAxes = null;
    $("session-info").textContent =
      `${result.body.is_new ? "New" : "Resumed"} session with ${result.body.persona_name} · ` +
      `${state.sessionId.slice(0, 8)}`;
    $("transcript").replaceChildren();
    $("turn-info").textContent = "";
    // Before the input opens, so the history (a new session's greeting) comes first.
    await loadHistory();
    $("message").disabled = false;
    $("message").placeholder = `Write to ${result.body.persona_name}…`;
    $("send").disabled = false;
    $("refresh").disabled = false;
    $("dream").disabled = false;
    $("dream-result").replaceChildren();
    $("message").focus();
    refreshPanels();
  });

  async function loadHistory() {
    const result = await getJson(`/comp/chat/${state.sessionId}/history?limit=50`);
    if (!result.ok || !result.body || !Array.isArray(result.body.messages)) return;
    for (const message of result.body.messages) {
      if (message.role === "user") bubble("user", message.content, "done");
      else if (message.role === "assistant") bubble("assistant", message.content, "done");
    }
  }

  // --- the transcript ----------------------------------------------------------------------

  function bubble(kind, text, stateName) {
    const item = document.createElement("li");
    item.className = kind;
    item.dataset.state = stateName;
    const body = document.createElement("span");
    body.className = "text";
    body.textContent = text;
    item.append(body);
    $("transcript").append(item);
    item.scrollIntoView({ block: "end" });
    return item;
  }

  function setText(item, text) {
    item.querySelector(".text").textContent = text;
    item.scrollIntoView({ block: "end" });
  }

  $("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });

  $("message").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send();
    }
  });

  async function send() {
    const text = $("message").value;
    if (!state.sessionId || state.sending || !text.trim()) return;
    state.sending = true;
    $("send").disabled = true;
    $("message").value = "";
    bubble("user", text, "done");
    const reply = bubble("assistant", "", "waiting");
    try {
      await streamTurn(text, reply);
    } catch (error) {
      reply.className = "error";
      reply.dataset.state = "error";
      setText(reply, `The stream broke: ${error.message}`);
    } finally {
      state.sending = false;
      $("send").disabled = false;
      $("message").focus();
    }
    refreshPanels();
    // Post-process (affinity, memories, insights) runs on a worker; look again shortly.
    setTimeout(refreshPanels, 1500);
  }

  async function streamTurn(text, reply) {
    const response = await fetch(`/comp/chat/${state.sessionId}/message/stream`, {
      method: "POST",
      headers: headers({ "Content-Type": "application/json", Accept: "text/event-stream" }),
      body: JSON.stringify({ message: text }),
    });
    if (!response.ok) {
      const body = await response.json().catch(() => null);
      reply.className = "error";
      reply.dataset.state = "error";
      setText(reply, problem({ status: response.status, body }));
      return;
    }
    let streamed = "";
    for await (const event of readEvents(response)) {
      if (event.name === "meta" && event.data.ghosted) {
        reply.className = "ghost";
        reply.dataset.state = "ghosted";
        setText(reply, "(ghosted: no reply this time)");
      } else if (event.name === "delta") {
        streamed += event.data.text;
        reply.dataset.state = "streaming";
        setText(reply, streamed);
      } else if (event.name === "done") {
        const done = event.data;
        if (!done.ghosted) {
          reply.dataset.state = "done";
          setText(reply, done.reply);  // the stored, cleaned reply
        }
        $("turn-info").textContent =
          `${done.ghosted ? "ghosted" : "replied"} · lead score ${done.lead_score.toFixed(1)}` +
          ` · training level ${done.agent_training_level.toFixed(2)}` +
          ` · typing delay ${done.typing_delay_ms} ms` +
          (done.should_show_cta ? " · show CTA" : "");
      } else if (event.name === "error") {
        reply.className = "error";
        reply.dataset.state = "error";
        setText(reply, `${event.data.message} (${event.data.error})`);
      }
    }
  }

  // --- side panels -------------------------------------------------------------------------

  function refreshPanels() {
    if (!state.sessionId) return;
    loadAffinity();
    loadProfile();
    loadMemories();
  }

  function pickAxes(body) {
    for (const candidate of [body, body && body.affinity, body && body.vector]) {
      if (candidate && AXES.every((axis) => typeof candidate[axis] === "number")) return candidate;
    }
    return null;
  }

  async function loadAffinity() {
    const result = await getJson(`/comp/affinity/${state.sessionId}`);
    const axes = result.ok ? pickAxes(result.body) : null;
    if (!axes) {
      $("affinity-note").textContent =
        result.status === 404
          ? "Not available: the affinity debug route is off (EXPOSE_AFFINITY_DEBUG=true) " +
            "or this session has no affinity yet."
          : `Not available: ${problem(result)}`;
      return;
    }
    $("affinity-note").textContent = "";
    const body = result.body;
    $("affinity-label").textContent =
      (body.relationship_label || body.label || (body.affinity || {}).relationship_label || "")
        .replace(/_/g, " ");
    const bars = $("affinity-bars");
    bars.replaceChildren();
    for (const axis of AXES) {
      const value = axes[axis];
      const row = document.createElement("div");
      row.className = "bar";
      const name = document.createElement("span");
      name.textContent = axis;
      const track = document.createElement("span");
      track.className = "track";
      const fill = document.createElement("span");
      fill.className = "fill";
      fill.style.display = "block";
      fill.style.width = `${Math.round(Math.max(0, Math.min(1, value)) * 100)}%`;
      track.append(fill);
      const number = document.createElement("span");
      number.className = "value";
      number.textContent = value.toFixed(3);
      const delta = document.createElement("span");
      delta.className = "delta";
      const previous = state.previousAxes ? state.previousAxes[axis] : null;
      if (previous !== null && Math.abs(value - previous) >= 0.0005) {
        delta.textContent = `${value > previous ? "+" : ""}${(value - previous).toFixed(3)}`;
        delta.classList.add(value > previous ? "up" : "down");
      }
      row.append(name, track, number, delta);
      bars.append(row);
    }
    const streak = body.ghost_streak ?? (body.affinity || {}).ghost_streak;
    const total = body.total_ghosts ?? (body.affinity || {}).total_ghosts;
    $("affinity-ghosts").textContent =
      streak === undefined ? "" : `ghost streak ${streak} · ghosts in total ${total}`;
    state.previousAxes = Object.fromEntries(AXES.map((axis) => [axis, axes[axis]]));
  }

  function describe(value) {
    if (Array.isArray(value)) return value.map(describe).join(", ");
    if (value && typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  async function loadProfile() {
    if (!state.userId) return;
    const result = await getJson(`/comp/user/${state.userId}/profile`);
    const list = $("profile");
    if (!result.ok || !result.body) {
      $("profile-note").textContent =
        result.status === 404 ? "The profile route is not available." : problem(result);
      return;
    }
    const level = result.body.agent_training_level;
    $("training-level").textContent =
      typeof level === "number" ? `training ${Math.round(level * 100)}%` : "";
    list.replaceChildren();
    const insights = result.body.companion_insights || {};
    const entries = Object.entries(insights).filter(
      ([, value]) => value !== null && value !== "" && !(Array.isArray(value) && !value.length),
    );
    for (const [key, value] of entries) {
      const term = document.createElement("dt");
      term.textContent = key.replace(/_/g, " ");
      const detail = document.createElement("dd");
      detail.textContent = describe(value);
      list.append(term, detail);
    }
    $("profile-note").textContent = entries.length ? "" : "Nothing known yet.";
  }

  async function loadMemories() {
    if (!state.userId) return;
    const result = await getJson(`/comp/user/${state.userId}/memories?limit=20`);
    const list = $("memories");
    if (!result.ok || !result.body) {
      $("memories-note").textContent =
        result.status === 404 ? "The memories route is not available." : problem(result);
      return;
    }
    const memories = result.body.memories || [];
    list.replaceChildren();
    for (const memory of memories) {
      const item = document.createElement("li");
      item.textContent = memory.content;
      const tag = document.createElement("span");
      tag.className = "tag";
      const layer = memory.layer || (memory.instance_id ? "relationship" : "profile");
      tag.textContent = [layer, memory.category].filter(Boolean).join(" · ");
      item.append(tag);
      list.append(item);
    }
    $("memories-note").textContent = memories.length ? "" : "Nothing remembered yet.";
  }

  $("refresh").addEventListener("click", refreshPanels);

  // Dream now (development only): distil this chat at once, as dreaming would once it is idle.
  $("dream").addEventListener("click", async () => {
    if (!state.sessionId) return;
    const box = $("dream-result");
    $("dream").disabled = true;
    box.textContent = "Dreaming…";
    const result = await postJson(`/playground/sessions/${state.sessionId}/dream`, {});
    $("dream").disabled = false;
    if (!result.ok || !result.body) {
      box.textContent = `Could not dream: ${problem(result)}`;
      return;
    }
    const done = result.body;
    const summary = document.createElement("p");
    summary.textContent =
      `Dreaming: ${done.status} · ${done.messages} message(s) → ` +
      `${done.created} new, ${done.merged} merged`;
    const list = document.createElement("ul");
    for (const memory of done.memories) {
      const item = document.createElement("li");
      item.textContent = memory.content;
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = [memory.layer, memory.category].filter(Boolean).join(" · ");
      item.append(tag);
      list.append(item);
    }
    box.replaceChildren(summary, list);
    loadMemories();
  });

  // --- start -------------------------------------------------------------------------------

  if (state.token && !state.userId) state.userId = subjectOf(state.token);
  showWho();
  loadProviders();
  if (state.token) loadPersonas();
  else askForToken();
})();
