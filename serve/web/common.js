// Shared by the pages of serve/web/ (inlined at build time by embed_web.py): element building,
// number and duration formats, the API's error messages, JSON fetching and polling.
"use strict";

// el("td", {className: "num"}, "text", child...): children are nodes or text (set as text, never
// HTML).
function el(tag, props, ...children) {
  const node = Object.assign(document.createElement(tag), props || {});
  for (const child of children) node.append(child instanceof Node ? child : String(child ?? ""));
  return node;
}

function fmtNumber(value, digits = 4) {
  return typeof value === "number" && isFinite(value) ? value.toFixed(digits) : "–";
}

// 1234567 -> "1.23M", 4321 -> "4.32k"
function fmtCount(value) {
  if (typeof value !== "number" || !isFinite(value)) return "–";
  for (const [size, unit] of [[1e9, "G"], [1e6, "M"], [1e3, "k"]])
    if (Math.abs(value) >= size) return (value / size).toPrecision(3) + unit;
  return String(Math.round(value));
}

// seconds -> "2h 05m", "4m 10s", "9s"
function fmtDuration(seconds) {
  if (typeof seconds !== "number" || !isFinite(seconds)) return "–";
  const s = Math.round(seconds), h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  if (h > 0) return `${h}h ${pad(m)}m`;
  if (m > 0) return `${m}m ${pad(s % 60)}s`;
  return `${s}s`;
}

function fmtAgo(unixSeconds) {
  if (!unixSeconds) return "–";
  return fmtDuration(Math.max(0, Date.now() / 1000 - unixSeconds)) + " ago";
}

function stateBadge(state) {
  return el("span", {className: "state " + state}, state);
}

// The message of a failed response: the API's {"error": {"message"}}, else its text or status.
async function errorMessage(response) {
  const text = await response.text();
  let body = null;
  try { body = JSON.parse(text); } catch (e) { /* not JSON */ }
  return body?.error?.message || body?.message || text.trim().slice(0, 300) ||
    `${response.status} ${response.statusText}`;
}

// The API key the chat page keeps (its settings), as the bearer token every API request carries.
function apiHeaders() {
  const key = (localStorage.getItem("alpha.api_key") || "").trim();
  return key ? {"Authorization": "Bearer " + key} : {};
}

// GET url as JSON; throws an Error with the server's message when it answers with an error.
async function getJson(url) {
  const response = await fetch(url, {cache: "no-store", headers: apiHeaders()});
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.json();
}

// Calls tick() now and then again after the delay it returns (ms), for as long as the page is open;
// a thrown error is shown in `errorBox` and retried later.
function poll(tick, errorBox) {
  const again = async () => {
    let delay = 5000;
    try {
      delay = await tick();
      errorBox.textContent = "";
    } catch (e) {
      errorBox.textContent = "Cannot reach the server: " + e.message;
    }
    setTimeout(again, document.hidden ? Math.max(delay, 10000) : delay);
  };
  again();
}
