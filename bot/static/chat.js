"use strict";
// The local web chat: bubbles, cards, quick-reply buttons; Japanese or English interface.
const UI = {
  ja: {title: "つながる鎌倉 案内ボット", placeholder: "質問を入力（例：協働ってなに？）", send: "送信",
       label: "メッセージ", log: "会話", choices: "選択肢", other: "English",
       error: "通信に失敗しました。少し待ってからもう一度お試しください。"},
  en: {title: "Tsunagaru Kamakura guide bot", placeholder: "Type a question (e.g. What is collaboration?)",
       send: "Send", label: "Message", log: "Conversation", choices: "Choices", other: "日本語",
       error: "Could not reach the bot. Please try again in a moment."},
};
const log = document.getElementById("log");
const choicesBox = document.getElementById("choices");
const input = document.getElementById("text");
// Who you are is the server's cookie (HttpOnly), never an id kept here; forget the old one.
localStorage.removeItem("tsunagaru-user");
let locale = localStorage.getItem("tsunagaru-locale") || ((navigator.language || "ja").startsWith("en") ? "en" : "ja");

function applyLocale() {
  const t = UI[locale];
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

function bubble(text, who) {
  const div = document.createElement("div");
  div.className = "msg " + who;
  div.textContent = text;  // never innerHTML: replies may quote what people typed
  log.appendChild(div);
  log.scrollTop = log.scrollHeight;
  return div;
}

function button(choice, className) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = className;
  b.textContent = choice.label;
  b.addEventListener("click", () => { bubble(choice.label, "me"); send({payload: choice.payload}); });
  return b;
}

function render(reply) {
  for (const notice of reply.notices || []) bubble(notice, "notice");
  bubble(reply.message, "bot");
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
      p.textContent = card.body;
      box.append(h, p);
      for (const b of card.buttons) box.appendChild(button(b, "choice"));
      row.appendChild(box);
    }
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
  }
  choicesBox.replaceChildren(...(reply.choices || []).map((c) => button(c, "choice")));
}

async function send(message) {
  const shown = [...choicesBox.children];
  choicesBox.replaceChildren();
  try {
    const res = await fetch("/api/chat", {
      method: "POST", headers: {"Content-Type": "application/json"}, credentials: "same-origin",
      body: JSON.stringify({locale, ...message}),
    });
    const data = await res.json();
    if (res.status === 429) {  // too fast: the bot's own kind words; the buttons stay
      bubble(data.message, "bot");
      choicesBox.replaceChildren(...shown);
      return;
    }
    if (!res.ok) throw new Error(data.error || res.statusText);
    render(data);
  } catch (err) {
    bubble(UI[locale].error + " (" + err.message + ")", "bot error");
    choicesBox.replaceChildren(...shown);
  }
}

document.getElementById("form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const text = input.value;
  if (!text.trim()) return;
  input.value = "";
  bubble(text, "me");
  send({text});
});
document.getElementById("lang").addEventListener("click", () => {
  locale = locale === "ja" ? "en" : "ja";
  localStorage.setItem("tsunagaru-locale", locale);
  applyLocale();
  send({payload: "lang:" + locale});  // the user's choice: the bot answers in it from now on
});
applyLocale();
send({payload: "welcome"});
input.focus();
