// The agent console: sign in, watch the queue, claim a conversation, answer the customer, hand back to the assistant.
// Talks only to the CRM's API on this origin. Everything from the API is put on the page as text (textContent and
// DOM nodes), never parsed as HTML.
"use strict";

(() => {
  const API = "/api/v1";
  const TOKEN_KEY = "crm-agent-token";
  const HEARTBEAT_MS = 20000;
  const REFRESH_MS = 3000;
  const AVAILABILITY_MS = 30000;
  const REASONS = {
    customer_request: "Asked for a person",
    repeated_fallback: "Assistant did not understand",
    negative_sentiment: "Frustrated customer",
    complaint: "Complaint",
    service_unavailable: "Service unavailable",
  };

  const $ = (id) => document.getElementById(id);
  const state = { token: sessionStorage.getItem(TOKEN_KEY), agent: null, ticketId: null, ticket: null, cursor: 0,
                  timers: [], refreshing: false };

  class ApiError extends Error {
    constructor(status, body) {
      const error = (body && body.error) || {};
      super(error.message || `The CRM answered ${status}.`);
      this.status = status;
      this.code = error.code;
      this.details = error;
    }
  }

  async function api(path, { method = "GET", body } = {}) {
    const headers = { Accept: "application/json" };
    if (state.token) headers.Authorization = `Bearer ${state.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(API + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (networkError) {
      throw new ApiError(0, { error: { code: "network", message: "The CRM cannot be reached right now." } });
    }
    const data = await response.json().catch(() => null);
    if (response.status === 401 && state.token && path !== "/agents/login") {
      signOut("Your session has ended. Please sign in again.");
    }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  // --- small helpers -------------------------------------------------------------------------------------------

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      if (value === undefined || value === null) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, String(value));
    }
    for (const child of children) {
      if (child !== null && child !== undefined) node.append(child); // strings become text nodes
    }
    return node;
  }

  function duration(seconds) {
    if (seconds < 60) return "under a minute";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return `${minutes} min`;
    return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
  }

  const clock = (iso) => new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const day = (iso) => new Date(iso).toLocaleDateString([], { year: "numeric", month: "short", day: "numeric" });
  const reason = (code) => REASONS[code] || code;

  const writable = (ticket) => Boolean(ticket && state.agent && ticket.status === "claimed" && ticket.agent_id === state.agent.id);

  function say(message) { $("status").textContent = message; }
  function ticketError(message) { $("ticket-error").textContent = message; }

  // --- signing in and out --------------------------------------------------------------------------------------

  async function signIn(event) {
    event.preventDefault();
    const username = $("login-username").value.trim();
    const password = $("login-password").value;
    const error = $("login-error");
    error.textContent = "";
    if (!username || !password) {
      error.textContent = "Enter your user name and password.";
      return;
    }
    $("login-button").disabled = true;
    try {
      const result = await api("/agents/login", { method: "POST", body: { username, password } });
      state.token = result.token;
      sessionStorage.setItem(TOKEN_KEY, result.token);
      $("login-password").value = "";
      start(result.agent);
    } catch (failure) {
      if (failure.status === 429) {
        error.textContent = `Too many failed sign-ins. Try again in ${duration(failure.details.retry_after_seconds || 60)}.`;
      } else if (failure.status === 401) {
        error.textContent = "Wrong user name or password.";
      } else {
        error.textContent = failure.message;
      }
    } finally {
      $("login-button").disabled = false;
    }
  }

  function start(agent) {
    state.agent = agent;
    $("agent-name").textContent = agent.display_name;
    $("login-view").hidden = true;
    $("session").hidden = false;
    $("console-view").hidden = false;
    say("");
    loadCannedReplies();
    heartbeat();
    refresh();
    availability();
    state.timers = [setInterval(heartbeat, HEARTBEAT_MS), setInterval(refresh, REFRESH_MS),
                    setInterval(availability, AVAILABILITY_MS)];
  }

  function signOut(message) {
    state.timers.forEach(clearInterval);
    Object.assign(state, { token: null, agent: null, ticketId: null, ticket: null, cursor: 0, timers: [] });
    sessionStorage.removeItem(TOKEN_KEY);
    $("console-view").hidden = true;
    $("ticket-view").hidden = true;
    $("session").hidden = true;
    $("login-view").hidden = false;
    $("availability").textContent = "";
    $("message-thread").replaceChildren();
    say(message || "Signed out.");
    $("login-username").focus();
  }

  async function resume() {
    if (!state.token) {
      $("login-username").focus();
      return;
    }
    try {
      start(await api("/agents/me"));
    } catch (failure) {
      if (failure.status !== 401) signOut(failure.message);
    }
  }

  function quietly(task) {
    return task().catch((failure) => {
      if (failure.status !== 401) say(failure.message);
    });
  }

  const heartbeat = () => quietly(() => api("/agents/me/heartbeat", { method: "POST" }));

  function availability() {
    return quietly(async () => {
      const now = await api("/support/availability");
      const online = `${now.agents_online} agent${now.agents_online === 1 ? "" : "s"} online`;
      const hours = now.within_hours ? "Within support hours" : `Outside support hours (${now.hours})`;
      const next = now.next_opening ? ` · opens ${day(now.next_opening)} ${clock(now.next_opening)}` : "";
      $("availability").textContent = `${hours} · ${online}${next}`;
    });
  }

  // --- the queues ----------------------------------------------------------------------------------------------

  function refresh() {
    if (state.refreshing || !state.token) return Promise.resolve();
    state.refreshing = true;
    return quietly(async () => {
      const [waiting, mine] = await Promise.all([api("/handoffs?status=waiting"), api("/handoffs?status=claimed&mine=true")]);
      renderList("queue", waiting.tickets, "queue-item");
      renderList("mine", mine.tickets, "mine-item");
      if (state.ticketId !== null) await pollTicket();
      say("");
    }).finally(() => { state.refreshing = false; });
  }

  function renderList(name, tickets, testId) {
    const list = $(`${name}-list`);
    const focused = document.activeElement && list.contains(document.activeElement)
      ? document.activeElement.getAttribute("data-ticket-id") : null;
    list.replaceChildren(...tickets.map((ticket) => el("li", {}, ticketButton(ticket, testId))));
    $(`${name}-empty`).hidden = tickets.length > 0;
    $(`${name}-count`).textContent = `(${tickets.length})`;
    if (focused) {
      const again = list.querySelector(`[data-ticket-id="${focused}"]`);
      if (again) again.focus();
    }
  }

  function ticketButton(ticket, testId) {
    const context = ticket.context || {};
    const band = context.churn ? context.churn.band : null;
    const sentiment = context.sentiment && context.sentiment.label;
    const verified = context.identity && context.identity.verified;
    const facts = el("span", { class: "ticket-item__facts" },
      ticket.status === "waiting" ? `waiting ${duration(ticket.waiting_seconds)}` : `claimed ${clock(ticket.claimed_at)}`,
      " · churn ", el("span", { class: `band band--${band || "none"}`, text: band || "unknown" }),
      ` · sentiment ${sentiment || "unknown"}`,
      ` · ${verified ? "verified" : "not verified"}`);
    const button = el("button", { type: "button", "data-ticket-id": ticket.id, "data-testid": testId,
                                  "aria-current": ticket.id === state.ticketId ? "true" : "false" },
      el("span", { class: "ticket-item__reason", text: `#${ticket.id} ${reason(ticket.reason)}` }), facts);
    button.addEventListener("click", () => openTicket(ticket.id));
    return button;
  }

  // --- one ticket ----------------------------------------------------------------------------------------------

  async function openTicket(id) {
    state.ticketId = id;
    state.cursor = 0;
    $("message-thread").replaceChildren();
    ticketError("");
    try {
      const ticket = await api(`/handoffs/${id}`);
      if (state.ticketId !== id) return;
      renderTicket(ticket);
      addMessages(ticket.messages);
      $("ticket-view").hidden = false;
      document.querySelectorAll("[data-ticket-id]").forEach((button) => {
        button.setAttribute("aria-current", String(Number(button.getAttribute("data-ticket-id")) === id));
      });
      $("ticket-title").focus();
    } catch (failure) {
      if (failure.status !== 401) say(failure.message);
    }
  }

  async function pollTicket() {
    const id = state.ticketId;
    const [ticket, messages] = await Promise.all([api(`/handoffs/${id}`), api(`/handoffs/${id}/messages?after=${state.cursor}`)]);
    if (state.ticketId !== id) return;
    renderTicket(ticket);
    addMessages(messages);
  }

  function renderTicket(ticket) {
    state.ticket = ticket;
    const context = ticket.context || {};
    const identity = context.identity || {};
    const mine = Boolean(state.agent) && ticket.agent_id === state.agent.id;
    $("ticket-title").textContent = `#${ticket.id} ${reason(ticket.reason)} · ${identity.verified ? identity.name : "unverified customer"}`;
    const status = {
      waiting: `Waiting for ${duration(ticket.waiting_seconds)}`,
      claimed: mine ? "You are handling this conversation" : `${ticket.agent} is handling this conversation`,
      resolved: `Resolved${ticket.agent ? ` by ${ticket.agent}` : ""}${ticket.rating ? ` · rated ${ticket.rating}/5` : ""}`,
    }[ticket.status];
    $("ticket-status").textContent = status;
    $("claim-button").hidden = ticket.status !== "waiting";
    for (const id of ["reply-box", "send-button", "canned-picker", "resolve-note", "resolve-button"]) {
      $(id).disabled = !writable(ticket);
    }
    renderContext(ticket, context);
    renderTranscript(ticket.transcript || []);
  }

  function renderContext(ticket, context) {
    const identity = context.identity || {};
    const account = context.account;
    const churn = context.churn;
    const sentiment = context.sentiment || {};
    const rows = [
      ["Customer", identity.verified ? `${identity.name}${identity.email ? ` (${identity.email})` : ""} · verified`
                                     : "Not verified"],
      ["Account", account ? `${account.order_count} orders (${account.open_order_count} open), spent £${account.total_spent}, `
                            + `member since ${day(account.member_since)}, ${account.account_status}` : "No account data"],
      ["Last order", account && account.last_order
        ? `${account.last_order.order_number}: ${account.last_order.status}, £${account.last_order.total}, ${day(account.last_order.placed_at)}`
        : "None"],
      ["Churn risk", churn ? el("span", { class: `band band--${churn.band}`, "data-testid": "churn-band",
                                          text: churn.probability === null ? churn.band.replace("_", " ")
                                                : `${churn.band} (${Math.round(churn.probability * 100)} %)` })
                           : "Not available"],
      ["Sentiment", sentiment.label ? `${sentiment.label}: ${sentiment.negative} of ${sentiment.labelled} recent messages negative`
                                    : "No rated messages"],
      ["Trigger", reason(context.trigger || ticket.reason)],
      ["Channel", ticket.channel || "unknown"],
      ["Priority", `${ticket.effective_priority.toFixed(1)} (base ${ticket.priority.toFixed(1)})`],
    ];
    $("ticket-context").replaceChildren(...rows.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", {}, value)]));
    const reasons = churn ? churn.reasons : [];
    $("churn-reasons").replaceChildren(...(reasons.length ? reasons.map((text) => el("li", { text }))
                                                          : [el("li", { text: "None given" })]));
  }

  function renderTranscript(entries) {
    $("transcript").replaceChildren(...entries.map((entry) => el("li", { class: `message message--${entry.sender === "bot" ? "bot" : "customer"}` },
      el("span", { class: "message__meta", text: entry.sender === "bot" ? "Assistant" : "Customer" }), entry.text)));
  }

  function addMessages(messages) {
    const thread = $("message-thread");
    for (const message of messages) {
      if (message.id <= state.cursor || thread.querySelector(`[data-message-id="${message.id}"]`)) continue;
      const who = { customer: "Customer", agent: message.author || "Agent", system: "" }[message.sender];
      thread.append(el("li", { class: `message message--${message.sender}`, "data-message-id": message.id,
                               "data-sender": message.sender },
        el("span", { class: "message__meta", text: [who, clock(message.created_at)].filter(Boolean).join(" · ") }),
        message.text));
      state.cursor = Math.max(state.cursor, message.id);
    }
    thread.scrollTop = thread.scrollHeight;
  }

  // --- actions -------------------------------------------------------------------------------------------------

  async function claim() {
    const button = $("claim-button");
    button.disabled = true;
    ticketError("");
    try {
      const ticket = await api(`/handoffs/${state.ticketId}/claim`, { method: "POST" });
      renderTicket(ticket);
      addMessages(ticket.messages);
      await refresh();
      $("reply-box").focus();
    } catch (failure) {
      if (failure.status === 409) {
        ticketError(failure.details.agent ? `${failure.details.agent} already took this one` : failure.message);
        await refresh();
      } else if (failure.status !== 401) {
        ticketError(failure.message);
      }
    } finally {
      button.disabled = false;
    }
  }

  async function send(event) {
    event.preventDefault();
    const box = $("reply-box");
    const text = box.value.trim();
    if (!text) {
      ticketError("Write a reply first.");
      box.focus();
      return;
    }
    $("send-button").disabled = true;
    ticketError("");
    try {
      await api(`/handoffs/${state.ticketId}/messages`, { method: "POST", body: { text } });
      box.value = "";
      $("canned-picker").value = "";
      await pollTicket(); // the thread shows the reply through the cursor, like every other message
    } catch (failure) {
      if (failure.status !== 401) ticketError(failure.message);
    } finally {
      $("send-button").disabled = !writable(state.ticket);
      box.focus();
    }
  }

  async function resolve(event) {
    event.preventDefault();
    $("resolve-button").disabled = true;
    ticketError("");
    try {
      const ticket = await api(`/handoffs/${state.ticketId}/resolve`, { method: "POST", body: { note: $("resolve-note").value.trim() } });
      $("resolve-note").value = "";
      renderTicket(ticket);
      say(`Conversation #${ticket.id} handed back to the assistant.`);
      await refresh();
      $("ticket-title").focus();
    } catch (failure) {
      if (failure.status !== 401) ticketError(failure.message);
      $("resolve-button").disabled = !writable(state.ticket);
    }
  }

  const cannedTexts = new Map();

  function loadCannedReplies() {
    return quietly(async () => {
      const replies = await api("/canned-replies");
      cannedTexts.clear();
      const picker = $("canned-picker");
      picker.replaceChildren(picker.options[0]);
      for (const reply of replies) {
        cannedTexts.set(String(reply.id), reply.text);
        picker.append(el("option", { value: reply.id, text: reply.title }));
      }
    });
  }

  function useCannedReply() {
    const text = cannedTexts.get($("canned-picker").value);
    if (!text) return;
    const box = $("reply-box");
    box.value = box.value.trim() ? `${box.value.trimEnd()} ${text}` : text;
    box.focus();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", signIn);
    $("logout-button").addEventListener("click", () => signOut("Signed out."));
    $("claim-button").addEventListener("click", claim);
    $("reply-form").addEventListener("submit", send);
    $("resolve-form").addEventListener("submit", resolve);
    $("canned-picker").addEventListener("change", useCannedReply);
    $("reply-box").addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("reply-form").requestSubmit();
    });
    resume();
  });
})();
