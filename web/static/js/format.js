// Small formatting and DOM helpers shared by the pages.

/** h builds an element: h("a", {href: "/"}, "text", child). Never parses HTML. */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function bits(n) {
  if (n === undefined || n === null || n === "" || isNaN(n)) return "–";
  n = Number(n);
  if (n <= 0) return "–";
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)} Mbit/s`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(0)} kbit/s`;
  return `${n} bit/s`;
}

export function seconds(s) {
  if (s === undefined || s === null || isNaN(s)) return "–";
  return `${Number(s).toFixed(1)} s`;
}

export function time(t) {
  if (!t) return "–";
  const d = new Date(t);
  if (isNaN(d)) return String(t);
  return d.toLocaleString();
}

export function clock(t) {
  const d = new Date(t);
  if (isNaN(d)) return "";
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

export function duration(a, b) {
  const ms = new Date(b || Date.now()) - new Date(a);
  if (isNaN(ms) || ms < 0) return "–";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export const STATES = ["idle", "starting", "live", "reconnecting", "failed"];

export function stateBadge(state, reason) {
  const st = STATES.includes(state) ? state : "unknown";
  return h("span", { class: `badge state-${st}`, title: reason || null }, state || "unknown");
}

/** copyText copies to the clipboard, falling back to a selection where the Clipboard API is unavailable (plain http). */
export async function copyText(text, field) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch { /* fall through */ }
  if (field) {
    field.focus();
    field.select();
    try { return document.execCommand("copy"); } catch { return false; }
  }
  return false;
}
