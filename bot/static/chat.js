"use strict";
// The local web chat: bubbles, cards, quick-reply buttons; Japanese or English interface.
const GAP = 8;  // px left above a message scrolled to the top of the log
const log = document.getElementById("log");
const choicesBox = document.getElementById("choices");
const input = document.getElementById("text");
const statusBox = document.getElementById("status");
// Who you are is the server's cookie (HttpOnly), never an id kept here; forget the old one.
localStorage.removeItem("tsunagaru-user");
let locale = localStorage.getItem("tsunagaru-locale") || ((navigator.language || "ja").startsWith("en") ? "en" : "ja");
let words = {};  // the page's words from knowledge/messages.toml (GET /api/words), by language
let pending = 0;  // replies still on their way
let pinned = true;  // the log shows its end: it keeps showing it when its height changes
// The conversation so far, kept in this tab (sessionStorage) so that a reload shows it again;
// gone when the tab closes, and at once after 「データ削除」.
const HISTORY = "tsunagaru-history";
const KEEP = 40;  // messages kept
// Three dots at the end of the log while a reply is on its way; #status says it in words.
const typing = document.createElement("div");
typing.className = "typing";
typing.setAttribute("aria-hidden", "true");
typing.append(...[1, 2, 3].map(() => document.createElement("span")));

function applyLocale() {  // the page's words in the person's language (GET /api/words)
  const t = words[locale];
  if (!t) return;  // not loaded: the page keeps the words it came with
  document.documentElement.lang = locale;
  document.getElementById("title").textContent = t.title;
  input.placeholder = t.placeholder;
  document.getElementById("send").textContent = t.send;
  document.getElementById("text-label").textContent = t.label;
  log.setAttribute("aria-label", t.log);
  choicesBox.setAttribute("aria-label", t.choices);
  const lang = document.getElementById("lang");
  lang.textContent = t.other;
  lang.setAttribute("aria-label", t.other);
}

function add(element) {  // before the typing dots, which stay last
  log.insertBefore(element, typing.isConnected ? typing : null);
  return element;
}

function bubble(text, who) {
  const div = document.createElement("div");
  div.className = "msg " + who;
  div.textContent = text;  // never innerHTML: replies may quote what people typed
  return add(div);
}

function history() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(HISTORY) || "[]");
    return Array.isArray(kept) ? kept : [];
  } catch (err) {
    return [];  // storage off or a broken entry: start afresh
  }
}

function remember(entry) {
  try {
    sessionStorage.setItem(HISTORY, JSON.stringify([...history(), entry].slice(-KEEP)));
  } catch (err) { /* full or off: the chat works without it */ }
}

function toEnd() {
  log.scrollTop = log.scrollHeight;
  pinned = true;
}

// Once everything of a reply is drawn (its buttons take room from the log): the newest
// message whole in view, or from its first line when it is taller than the log.
function reveal(first) {
  const end = log.scrollHeight - log.clientHeight;
  log.scrollTop = Math.min(end, first.offsetTop - GAP);
  pinned = log.scrollTop >= end - 2;
}

function button(choice) {
  if (choice.url) return link(choice);  // a link choice (「カレンダーに追加」): see link() below
  const b = document.createElement("button");
  b.type = "button";
  b.className = "choice";
  b.textContent = choice.label;
  b.addEventListener("click", () => {
    if (pending) return;  // one tap, one message: a double tap must not answer a form twice
    bubble(choice.label, "me");
    remember({me: choice.label});
    toEnd();
    send({payload: choice.payload}, b);
  });
  return b;
}

function render(reply, replaying) {
  const notices = (reply.notices || []).map((notice) => bubble(notice, "notice"));
  const said = bubble(reply.message, "bot");
  if (reply.cards && reply.cards.length) {
    const row = document.createElement("div");
    row.className = "cards";
    row.setAttribute("role", "list");
    for (const card of reply.cards) {
      const box = document.createElement("article");
      box.className = "card";
      box.setAttribute("role", "listitem");
      const h = document.createElement("h3");
      h.textContent = card.title;
      const p = document.createElement("div");
      p.className = "body";
      p.textContent = card.body;
      const actions = document.createElement("div");
      actions.className = "actions";
      actions.append(...card.buttons.map(button));
      box.append(h, p, actions);
      row.appendChild(box);
    }
    add(row);
  }
  if (replaying) return;  // an earlier reply drawn again: its choices are gone
  choicesBox.replaceChildren(...(reply.choices || []).map(button));
  reveal(notices[0] || said);  // after the choices: they change the log's height
}

// A tapped choice goes away with the reply that replaces the choices: focus moves to the
// first new one (or the composer), never to the page's body; unless the person moved it.
function keepFocus(from) {
  const at = document.activeElement;
  if (at && at !== document.body && at !== from) return;
  (choicesBox.querySelector("button") || input).focus({preventScroll: true});
}

function waiting(on) {
  if (on) {
    log.setAttribute("aria-busy", "true");
    log.appendChild(typing);
    toEnd();
  } else {
    log.removeAttribute("aria-busy");
    typing.remove();
  }
  statusBox.textContent = on ? (words[locale] || {}).typing || "" : "";
  for (const b of choicesBox.querySelectorAll("button")) {
    if (on) b.setAttribute("aria-disabled", "true");
    else b.removeAttribute("aria-disabled");
  }
}

async function send(message, from) {
  if (pending++ === 0) waiting(true);
  let answered = false;
  try {
    const res = await fetch("/api/chat", {
      method: "POST", headers: {"Content-Type": "application/json"}, credentials: "same-origin",
      body: JSON.stringify({locale, ...message}),
    });
    const data = await res.json();
    if (res.status === 429) {  // too fast: the bot's own kind words; the buttons stay
      reveal(bubble(data.message, "bot"));
      return;
    }
    if (!res.ok) throw new Error(data.error || res.statusText);
    render(data);
    if ((data.slots || {}).forgotten) sessionStorage.removeItem(HISTORY);  // データ削除
    else remember({bot: {...data, choices: []}});
    answered = true;
  } catch (err) {
    // The page's own words when /api/words could not be loaded either (the network).
    const said = (words[locale] || {}).error || document.body.dataset.error;
    reveal(bubble(said ? said + " (" + err.message + ")" : err.message, "bot error"));
  } finally {
    if (--pending === 0) waiting(false);
    if (from && answered) keepFocus(from);
  }
}

async function getJSON(url) {
  const res = await fetch(url, {credentials: "same-origin"});
  if (!res.ok) throw new Error(res.statusText);
  return res.json();
}

async function start() {
  input.focus();
  const [found, last] = await Promise.all([
    getJSON("/api/words").catch(() => ({})),
    getJSON("/api/last-reply").then((data) => data.reply).catch(() => null),
  ]);
  words = found;
  applyLocale();
  const earlier = history();
  for (const entry of earlier) {  // a reload: the conversation so far
    if (typeof entry.me === "string") bubble(entry.me, "me");
    else if (entry.bot) render(entry.bot, true);
  }
  if (earlier.length) {
    // The last reply's buttons again while they wait (a form), else the composer.
    choicesBox.replaceChildren(...((last && last.choices) || []).map(button));
    toEnd();
  } else if (last) render(last);  // the last reply again, with its buttons (a form waits)
  else send({payload: "welcome"});
}

log.addEventListener("scroll", () => {
  pinned = log.scrollTop >= log.scrollHeight - log.clientHeight - 2;
}, {passive: true});
// The log's height changes with the window (a phone's keyboard, turning it): its end stays.
new ResizeObserver(() => { if (pinned) log.scrollTop = log.scrollHeight; }).observe(log);
document.getElementById("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  bubble(text, "me");
  remember({me: text});
  toEnd();
  send({text});
});
document.getElementById("lang").addEventListener("click", () => {
  locale = locale === "ja" ? "en" : "ja";
  localStorage.setItem("tsunagaru-locale", locale);
  applyLocale();
  send({payload: "lang:" + locale});  // the user's choice: the bot answers in it from now on
});
start();

// --- link choices (「カレンダーに追加」) -------------------------------------------------------
// A choice with a url opens it instead of sending a payload: this server's own files (the
// .ics of a sign-up) download; another site opens in a new tab, without access to this page.
function link(choice) {
  const a = document.createElement("a");
  a.className = "choice";
  a.textContent = choice.label;
  a.href = choice.url;
  a.rel = "noopener";
  if (choice.url.startsWith("/")) a.download = "";
  else a.target = "_blank";
  return a;
}
