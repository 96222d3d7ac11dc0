/*!
 * Shop chat widget: an embeddable customer-service chat that talks to the shop assistant (Rasa) over socket.io.
 * One script tag embeds it; its options and test hooks are described in README.md beside this file.
 * The only global it defines is window.ShopChat. ASCII only (\u escapes), so a page's charset cannot garble it.
 */
(function () {
  "use strict";

  if (window.ShopChat) return; // included twice: one widget is enough

  // The script tag's options, with their defaults. README.md documents exactly these.
  var OPTIONS = {
    "data-server-url": "",
    "data-title": "Customer service",
    "data-primary-color": "#1f5f5b",
    "data-initial-message": "Hi! I'm the shop's assistant. Ask me about an order, a return, delivery or your account.",
    "data-socket-path": "/socket.io/"
  };

  var TEXT = {
    assistant: "Assistant",
    you: "You",
    agent: "Agent",
    openChat: "Open chat",
    closeChat: "Close chat",
    unread: function (count) { return count === 1 ? "1 unread message" : count + " unread messages"; },
    inputLabel: "Type your message",
    placeholder: "Type your message\u2026",
    send: "Send",
    conversation: "Conversation",
    suggestions: "Suggested replies",
    connecting: "Connecting\u2026",
    unreachable: "We can't reach our chat right now. Trying again\u2026",
    reconnecting: "Reconnecting\u2026",
    unavailable: "The chat could not be loaded. Please try again later.",
    waiting: "Finding an agent for you\u2026",
    offline: "Our team is offline right now. Leave a message here and the next agent will read it.",
    chattingWith: function (name) { return "You're chatting with " + name; },
    chatErrors: {
      message_too_long: "That message is too long for the chat. Please make it shorter.",
      invalid_message: "Please type a message first.",
      assistant_unavailable: "Sorry, the assistant couldn't answer just now. Please try again in a moment."
    },
    chatError: "Sorry, something went wrong with that message. Please try again."
  };

  var STORAGE_PREFIX = "shop-chat:";
  var MAX_MESSAGE_CHARS = 5000; // the server refuses longer messages: channels/messages.py
  var TYPING_TIMEOUT_MS = 30000;
  var HISTORY_TIMEOUT_MS = 8000;
  var RETRY_REFUSED_MS = 5000;
  var FULL_SCREEN = "(max-width: 480px)"; // as in chat-widget.css: the open panel covers the page, so Tab stays in it
  var SVG_NS = "http://www.w3.org/2000/svg";
  var ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z";
  var ICON_CLOSE = "M6 6l12 12M18 6L6 18";

  var script = document.currentScript ||
    document.querySelector("script[data-server-url][src*='chat-widget']");
  if (!script || !script.src) {
    console.error("ShopChat: cannot find its own script tag; load chat-widget.js with a plain <script src> tag.");
    return;
  }

  /** The options from the script tag; missing or empty attributes get their default. */
  function readOptions(tag) {
    var options = {};
    Object.keys(OPTIONS).forEach(function (name) {
      var value = tag.getAttribute(name);
      options[name] = value && value.trim() ? value.trim() : OPTIONS[name];
    });
    if (!(window.CSS && CSS.supports("color", options["data-primary-color"]))) {
      options["data-primary-color"] = OPTIONS["data-primary-color"];
    }
    return options;
  }

  /** The server's origin (socket.io would take a path in the URL for a namespace), or null when it is not http(s). */
  function serverOrigin(value) {
    try {
      var url = new URL(value); // absolute only: an unfilled placeholder must not fall back to the page's origin
      return url.protocol === "http:" || url.protocol === "https:" ? url.origin : null;
    } catch (invalid) {
      return null;
    }
  }

  /** Storage that never throws: private modes and blocked storage fall back to memory for this page. */
  function createStore(key) {
    var memory = {};
    return {
      read: function () {
        try {
          return JSON.parse(window.localStorage.getItem(key) || "{}") || {};
        } catch (unavailable) {
          return memory;
        }
      },
      write: function (patch) {
        var value = this.read();
        Object.keys(patch).forEach(function (name) { value[name] = patch[name]; });
        memory = value;
        try {
          window.localStorage.setItem(key, JSON.stringify(value));
        } catch (unavailable) { /* memory keeps it for this page */ }
      }
    };
  }

  function randomId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
  }

  /** Loads the vendored socket.io client and hands its `io` to `done`, putting the page's own `window.io` back. */
  function loadSocketIo(src, done) {
    var hadIo = Object.prototype.hasOwnProperty.call(window, "io");
    var pageIo = window.io;
    var tag = document.createElement("script");
    tag.src = src;
    tag.async = true;
    tag.onload = function () {
      var io = window.io;
      if (hadIo) window.io = pageIo;
      else delete window.io;
      done(typeof io === "function" && io !== pageIo ? io : null);
    };
    tag.onerror = function () { done(null); };
    document.head.appendChild(tag);
  }

  /** Whether white text reads on the colour (WCAG contrast of at least 4.5): false for light colours. */
  function isDark(color, probe) {
    probe.style.color = color;
    var rgb = (getComputedStyle(probe).color.match(/\d+(\.\d+)?/g) || []).slice(0, 3).map(Number);
    probe.style.color = "";
    if (rgb.length < 3) return true;
    var linear = rgb.map(function (c) {
      c /= 255;
      return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
    });
    var luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2];
    return 1.05 / (luminance + 0.05) >= 4.5;
  }

  function el(tag, className, attributes) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    return node;
  }

  function icon(path) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    svg.setAttribute("class", "shop-chat__icon");
    var line = document.createElementNS(SVG_NS, "path");
    line.setAttribute("d", path);
    svg.appendChild(line);
    return svg;
  }

  /** The widget's DOM: launcher, panel, header, banner, status line, message log, typing indicator, form. */
  function buildView(options) {
    var uid = "shop-chat-" + randomId().slice(0, 8);
    var view = {};
    view.root = el("div", "shop-chat");
    view.launcher = el("button", "shop-chat__launcher", {
      type: "button", "data-testid": "chat-launcher", "aria-expanded": "false", "aria-controls": uid + "-panel",
      "aria-label": TEXT.openChat
    });
    view.launcher.appendChild(icon(ICON_CHAT));
    view.badge = el("span", "shop-chat__badge", { "data-testid": "chat-unread", "aria-hidden": "true" });
    view.badge.hidden = true;
    view.launcher.appendChild(view.badge);

    view.panel = el("section", "shop-chat__panel", {
      id: uid + "-panel", role: "dialog", "aria-labelledby": uid + "-title", "data-testid": "chat-panel", tabindex: "-1"
    });
    view.panel.hidden = true;
    var header = el("div", "shop-chat__header");
    view.title = el("h2", "shop-chat__title", { id: uid + "-title" });
    view.title.textContent = options["data-title"];
    view.close = el("button", "shop-chat__close", {
      type: "button", "data-testid": "chat-close", "aria-label": TEXT.closeChat
    });
    view.close.appendChild(icon(ICON_CLOSE));
    header.appendChild(view.title);
    header.appendChild(view.close);

    view.banner = el("div", "shop-chat__banner", { role: "status", "data-testid": "chat-banner" });
    view.banner.hidden = true;
    view.status = el("div", "shop-chat__status", { role: "status", "data-testid": "chat-status" });
    view.status.hidden = true;
    view.log = el("div", "shop-chat__log", {
      role: "log", "aria-live": "polite", "aria-label": TEXT.conversation, "data-testid": "chat-log", tabindex: "0"
    });
    // the typing indicator stays the log's last child; decorative, as the reply itself is announced
    view.typing = el("div", "shop-chat__typing", { "data-testid": "chat-typing", "aria-hidden": "true" });
    view.typing.hidden = true;
    for (var i = 0; i < 3; i++) view.typing.appendChild(el("span", "shop-chat__dot"));
    view.log.appendChild(view.typing);

    view.form = el("form", "shop-chat__form");
    var label = el("label", "shop-chat__sr", { "for": uid + "-input" });
    label.textContent = TEXT.inputLabel;
    view.input = el("input", "shop-chat__input", {
      id: uid + "-input", type: "text", autocomplete: "off",
      placeholder: TEXT.placeholder, "data-testid": "chat-input"
    });
    view.send = el("button", "shop-chat__send", { type: "submit", "data-testid": "chat-send" });
    view.send.textContent = TEXT.send;
    view.form.appendChild(label);
    view.form.appendChild(view.input);
    view.form.appendChild(view.send);

    [header, view.banner, view.status, view.log, view.form].forEach(function (part) {
      view.panel.appendChild(part);
    });
    view.root.appendChild(view.panel);
    view.root.appendChild(view.launcher);
    return view;
  }

  function Widget(options, origin) {
    this.options = options;
    this.origin = origin;
    this.store = createStore(STORAGE_PREFIX + origin + options["data-socket-path"]);
    this.clientId = randomId();
    this.sessionId = this.store.read().sessionId || null;
    this.socket = null;
    this.loading = false;
    this.ready = false;           // connected, session confirmed and history shown
    this.everConnected = false;
    this.userCount = 0;           // customer messages in the conversation as this tab knows it
    this.outbox = [];             // customer messages not yet acknowledged by the server
    this.unread = Number(this.store.read().unread) || 0;  // kept across reloads and tabs of the site
    this.lastButtons = [];        // the latest bot message's buttons: shows a payload as its title
    this.handoffActive = false;   // an agent has it or is being found: the bot is silent, no typing indicator
    this.typingTimer = null;
    this.historyTimer = null;
    this.view = buildView(options);
  }

  Widget.prototype.mount = function () {
    var self = this;
    var view = this.view;
    view.root.style.setProperty("--shop-chat-primary", this.options["data-primary-color"]);
    document.body.appendChild(view.root);
    if (!isDark(this.options["data-primary-color"], view.root)) view.root.classList.add("shop-chat--light");
    this.renderGreeting();
    this.setReady(false);
    this.showUnread();
    window.addEventListener("storage", function () { self.showUnread(); });  // another tab opened or got messages

    view.launcher.addEventListener("click", function () { self.toggle(); });
    view.close.addEventListener("click", function () { self.close(); });
    view.panel.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        event.stopPropagation();
        self.close();
      } else if (event.key === "Tab" && window.matchMedia(FULL_SCREEN).matches) {
        self.keepTabInPanel(event);
      }
    });
    view.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.submitTyped();
    });
    if (this.store.read().open) this.open(false);
    else if (this.sessionId) this.connect(); // a conversation in progress: agent or bot messages may still arrive
  };

  Widget.prototype.isOpen = function () { return !this.view.panel.hidden; };

  Widget.prototype.toggle = function () {
    if (this.isOpen()) this.close();
    else this.open(true);
  };

  /** Opens the panel; `moveFocus` is false when restoring the state of an earlier page, so the page keeps focus. */
  Widget.prototype.open = function (moveFocus) {
    var view = this.view;
    view.panel.hidden = false;
    view.root.classList.add("shop-chat--open");
    view.launcher.setAttribute("aria-expanded", "true");
    this.store.write({ open: true });
    this.setUnread(0);
    this.scrollToEnd();
    this.connect();
    if (moveFocus) (view.input.disabled ? view.panel : view.input).focus();
  };

  /** Wraps Tab from the panel's last control to its first (and Shift+Tab back) while the panel fills the screen. */
  Widget.prototype.keepTabInPanel = function (event) {
    var controls = Array.prototype.filter.call(
      this.view.panel.querySelectorAll("button, input, [tabindex='0']"),
      function (control) { return !control.disabled && control.getClientRects().length > 0; }
    );
    if (!controls.length) return;
    var first = controls[0];
    var last = controls[controls.length - 1];
    var active = document.activeElement;
    if (event.shiftKey && (active === first || active === this.view.panel)) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && active === last) {
      event.preventDefault();
      first.focus();
    }
  };

  Widget.prototype.close = function () {
    var view = this.view;
    var hadFocus = view.panel.contains(document.activeElement);
    view.panel.hidden = true;
    view.root.classList.remove("shop-chat--open");
    view.launcher.setAttribute("aria-expanded", "false");
    this.store.write({ open: false });
    if (hadFocus) view.launcher.focus();
  };

  Widget.prototype.setUnread = function (count) {
    this.store.write({ unread: count });
    this.showUnread();
  };

  /** Shows the stored count of bot and agent messages that came while the panel was closed. */
  Widget.prototype.showUnread = function () {
    var count = this.isOpen() ? 0 : Number(this.store.read().unread) || 0;
    this.unread = count;
    this.view.badge.textContent = String(count);
    this.view.badge.hidden = count === 0;
    var label = count ? TEXT.openChat + " (" + TEXT.unread(count) + ")" : TEXT.openChat;
    this.view.launcher.setAttribute("aria-label", label);
  };

  Widget.prototype.setStatus = function (text) {
    this.view.status.textContent = text;
    this.view.status.hidden = !text;
  };

  /** Enables the input, send and the current quick replies only while messages can reach the server. */
  Widget.prototype.setReady = function (ready) {
    var view = this.view;
    this.ready = ready;
    view.input.disabled = !ready;
    view.send.disabled = !ready;
    view.root.classList.toggle("shop-chat--offline", !ready);
    var replies = view.log.querySelectorAll(".shop-chat__replies[data-active] button");
    Array.prototype.forEach.call(replies, function (button) { button.disabled = !ready; });
    if (ready) {
      this.setStatus("");
      if (document.activeElement === view.panel) view.input.focus();
    } else {
      this.hideTyping();
    }
  };

  Widget.prototype.connect = function () {
    var self = this;
    if (this.socket || this.loading) return;
    this.loading = true;
    this.setStatus(TEXT.connecting);
    loadSocketIo(new URL("../vendor/socket.io.min.js", script.src).href, function (io) {
      if (!io) {
        self.setStatus(TEXT.unavailable);
        console.error("ShopChat: could not load the socket.io client from ../vendor/socket.io.min.js");
        return;
      }
      self.socket = io(self.origin, {
        path: self.options["data-socket-path"],
        transports: ["websocket", "polling"],
        tryAllTransports: true
      });
      self.listen(self.socket);
    });
  };

  Widget.prototype.listen = function (socket) {
    var self = this;
    socket.on("connect", function () {
      self.everConnected = true;
      socket.emit("session_request", { session_id: self.sessionId });
    });
    socket.on("connect_error", function () {
      self.setStatus(self.everConnected ? TEXT.reconnecting : TEXT.unreachable);
      // refused by the server: socket.io does not retry on its own then
      if (!socket.active) window.setTimeout(function () { socket.connect(); }, RETRY_REFUSED_MS);
    });
    socket.on("disconnect", function (reason) {
      window.clearTimeout(self.historyTimer);
      self.setReady(false);
      self.setStatus(TEXT.reconnecting);
      if (reason === "io server disconnect") socket.connect(); // the server closed it: socket.io does not retry then
    });
    socket.on("session_confirm", function (confirmed) {
      var sessionId = typeof confirmed === "string" ? confirmed : confirmed && confirmed.session_id;
      if (!sessionId) return;
      self.sessionId = sessionId;
      self.store.write({ sessionId: sessionId });
      socket.emit("history_request", { session_id: sessionId });
      window.clearTimeout(self.historyTimer);
      self.historyTimer = window.setTimeout(function () { self.flushOutbox(null); }, HISTORY_TIMEOUT_MS);
    });
    socket.on("history", function (history) {
      window.clearTimeout(self.historyTimer);
      self.renderHistory(history || {});
    });
    socket.on("bot_uttered", function (message) { self.receiveBot(message || {}); });
    socket.on("user_echo", function (echo) {
      if (!echo || echo.client_id === self.clientId || typeof echo.text !== "string") return;
      self.userCount += 1;
      self.appendMessage({ sender: "user", text: self.shownAs(echo.text) });
    });
    socket.on("chat_error", function (problem) {
      self.hideTyping();
      var code = problem && problem.code;
      var known = Object.prototype.hasOwnProperty.call(TEXT.chatErrors, code);
      self.appendNote(known ? TEXT.chatErrors[code] : TEXT.chatError);
    });
  };

  /** Replaces what is shown with the conversation as the server knows it, then sends what did not reach it. */
  Widget.prototype.renderHistory = function (history) {
    var self = this;
    var messages = Array.isArray(history.messages) ? history.messages : [];
    this.clearLog();
    this.lastButtons = [];
    this.userCount = 0;
    var userTexts = [];
    messages.forEach(function (message) {
      if (message.sender === "user") {
        self.userCount += 1;
        userTexts.push(message.text);
        self.appendMessage({ sender: "user", text: self.shownAs(message.text) });
      } else {
        self.appendBot(message);
      }
    });
    // the server's word on whether a person has it; the messages' last event tells waiting from offline
    var handoff = history.handoff || {};
    var lastEvent = this.view.banner.getAttribute("data-event");
    if (!handoff.active) this.setHandoff(null);
    else if (handoff.agent) this.setHandoff({ event: "agent_joined", agent: handoff.agent });
    else this.setHandoff({ event: lastEvent === "offline" ? "offline" : "waiting" });
    this.flushOutbox(userTexts);
  };

  /**
   * Becomes ready and sends the outbox. With the history's customer messages (`userTexts`), a message the server
   * already has is dropped and the others are shown again after the history; without (no history came), all are sent.
   * A history that comes after the wait for it ran out finds the outbox already sent: it is only shown again.
   */
  Widget.prototype.flushOutbox = function (userTexts) {
    var self = this;
    var send = !this.ready;
    if (userTexts) {
      this.outbox = this.outbox.filter(function (item) {
        return !userTexts.slice(item.knownUserCount).some(function (text) {
          return text === item.text || text === item.shown;
        });
      });
      this.outbox.forEach(function (item) { self.show(item); });
    }
    this.setReady(true);
    if (send) this.outbox.forEach(function (item) { self.emit(item); });
    this.scrollToEnd();
  };

  /** Removes everything between the greeting and the typing indicator. */
  Widget.prototype.clearLog = function () {
    while (this.greeting.nextSibling !== this.view.typing) this.view.log.removeChild(this.greeting.nextSibling);
  };

  Widget.prototype.receiveBot = function (message) {
    this.hideTyping();
    var shown = this.appendBot(message);
    if (shown && !this.isOpen()) this.setUnread(this.unread + 1);
  };

  /** Shows a bot or agent message and applies its handoff event; returns whether a message was shown. */
  Widget.prototype.appendBot = function (message) {
    var handoff = message.custom && message.custom.handoff;
    if (handoff && handoff.event) this.setHandoff(handoff);
    var buttons = Array.isArray(message.buttons) ? message.buttons.filter(function (b) {
      return b && typeof b.title === "string" && typeof b.payload === "string";
    }) : [];
    if (buttons.length) this.lastButtons = buttons;
    if (typeof message.text !== "string" || !message.text) return false;
    var fromAgent = handoff && handoff.event === "agent_message";
    this.appendMessage({
      sender: fromAgent ? "agent" : "bot",
      author: fromAgent ? handoff.agent || TEXT.agent : null,
      text: message.text,
      buttons: buttons
    });
    return true;
  };

  /** What the customer sees for a message they sent: a button's title instead of its payload. */
  Widget.prototype.shownAs = function (text) {
    for (var i = 0; i < this.lastButtons.length; i++) {
      if (this.lastButtons[i].payload === text) return this.lastButtons[i].title;
    }
    return text;
  };

  Widget.prototype.renderGreeting = function () {
    this.greeting = this.appendMessage({ sender: "bot", text: this.options["data-initial-message"] });
  };

  /** Appends one message; every text goes in through textContent, so markup shows as text. */
  Widget.prototype.appendMessage = function (message) {
    var self = this;
    var view = this.view;
    this.retireQuickReplies();
    var item = el("div", "shop-chat__msg shop-chat__msg--" + message.sender, {
      "data-testid": "chat-message", "data-sender": message.sender
    });
    var author = el("span", message.author ? "shop-chat__author" : "shop-chat__sr");
    author.textContent = message.author || (message.sender === "user" ? TEXT.you : TEXT.assistant);
    var bubble = el("div", "shop-chat__bubble", { "data-testid": "chat-message-text" });
    bubble.textContent = message.text;
    item.appendChild(author);
    item.appendChild(bubble);
    if (message.buttons && message.buttons.length) {
      var group = el("div", "shop-chat__replies", { role: "group", "aria-label": TEXT.suggestions, "data-active": "" });
      message.buttons.forEach(function (button) {
        var choice = el("button", "shop-chat__reply", { type: "button", "data-testid": "chat-quick-reply" });
        choice.textContent = button.title;
        choice.disabled = !self.ready;
        choice.addEventListener("click", function () {
          if (!self.ready) return;
          self.retireQuickReplies();
          self.submit(button.payload, button.title);
        });
        group.appendChild(choice);
      });
      item.appendChild(group);
    }
    var nearEnd = view.log.scrollHeight - view.log.scrollTop - view.log.clientHeight < 80;
    view.log.insertBefore(item, view.typing);
    if (nearEnd || message.sender === "user") this.scrollToEnd();
    return item;
  };

  Widget.prototype.appendNote = function (text) {
    var note = el("div", "shop-chat__note", { "data-testid": "chat-note" });
    note.textContent = text;
    this.view.log.insertBefore(note, this.view.typing);
    this.scrollToEnd();
  };

  /** Quick replies belong to the latest message only: older ones are disabled. */
  Widget.prototype.retireQuickReplies = function () {
    Array.prototype.forEach.call(this.view.log.querySelectorAll(".shop-chat__replies[data-active]"), function (group) {
      group.removeAttribute("data-active");
      Array.prototype.forEach.call(group.querySelectorAll("button"), function (button) { button.disabled = true; });
    });
  };

  Widget.prototype.scrollToEnd = function () {
    this.view.log.scrollTop = this.view.log.scrollHeight;
  };

  Widget.prototype.submitTyped = function () {
    var input = this.view.input;
    var text = input.value.trim();
    if (!text || !this.ready) return;
    if (text.length > MAX_MESSAGE_CHARS) {
      this.appendNote(TEXT.chatErrors.message_too_long); // kept in the input to shorten
      return;
    }
    input.value = "";
    this.submit(text, text);
  };

  /** Sends `text` to the assistant, showing `shown` as the customer's message (a button's title for its payload). */
  Widget.prototype.submit = function (text, shown) {
    var item = { text: text, shown: shown };
    this.show(item);
    this.outbox.push(item);
    if (this.ready) this.emit(item);
  };

  /** Shows an outbox message as the customer's latest, remembering how many came before it. */
  Widget.prototype.show = function (item) {
    item.knownUserCount = this.userCount;
    this.userCount += 1;
    this.appendMessage({ sender: "user", text: item.shown });
  };

  Widget.prototype.emit = function (item) {
    var self = this;
    if (!this.socket.connected) return; // stays in the outbox; socket.io's own buffer would send it before the session
    var data = { message: item.text, session_id: this.sessionId, client_id: this.clientId };
    this.socket.emit("user_uttered", data, function acknowledged() {
      self.outbox = self.outbox.filter(function (other) { return other !== item; });
    });
    if (!this.handoffActive) this.showTyping();
  };

  Widget.prototype.showTyping = function () {
    var self = this;
    this.view.typing.hidden = false;
    this.scrollToEnd();
    window.clearTimeout(this.typingTimer);
    this.typingTimer = window.setTimeout(function () { self.hideTyping(); }, TYPING_TIMEOUT_MS);
  };

  Widget.prototype.hideTyping = function () {
    window.clearTimeout(this.typingTimer);
    this.view.typing.hidden = true;
  };

  /** Shows the handoff banner for an event, or removes it (`null` or handed_back). */
  Widget.prototype.setHandoff = function (handoff) {
    var banner = this.view.banner;
    var event = handoff && handoff.event;
    var agent = handoff && typeof handoff.agent === "string" && handoff.agent ? handoff.agent : null;
    var text = "";
    if (event === "waiting") text = TEXT.waiting;
    else if (event === "offline") text = TEXT.offline;
    else if (event === "agent_joined" || event === "agent_message") text = TEXT.chattingWith(agent || TEXT.agent);
    this.handoffActive = Boolean(text);
    banner.textContent = text;
    banner.hidden = !text;
    banner.setAttribute("data-event", text ? event : "");
  };

  function start() {
    var options = readOptions(script);
    var origin = serverOrigin(options["data-server-url"]);
    if (!origin) {
      console.error("ShopChat: data-server-url must be the http(s) address of the assistant's server.");
      return;
    }
    var widget = new Widget(options, origin);
    window.ShopChat = {
      open: function () { widget.open(true); },
      close: function () { widget.close(); }
    };
    var stylesheet = el("link", null, { rel: "stylesheet", href: new URL("chat-widget.css", script.src).href });
    stylesheet.onload = stylesheet.onerror = function () { widget.mount(); };
    document.head.appendChild(stylesheet);
  }

  window.ShopChat = {}; // claims the namespace at once, so a second copy of the script stops early
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
