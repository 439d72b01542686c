// The mmsgate app: channel list, "Play a URL", channel forms, player page,
// embed snippets and live session logs. Everything updates from the API's
// server-sent events; nothing polls the network.

import { api, stream, statusOf, getToken, setToken, urls, APIError } from "./api.js";
import { h, bits, seconds, time, clock, duration, stateBadge, copyText } from "./format.js";
import { attach } from "./player.js";

const main = document.getElementById("main");
const toastEl = document.getElementById("toast");

/** channels: name -> merged channel configuration and live status. */
const channels = new Map();
/** listeners re-render parts of the current view when a channel changes. */
const listeners = new Set();
let view = null; // {abort: AbortController}

// ---------- small UI services ----------

let toastTimer = 0;
function toast(text, kind = "info") {
  toastEl.textContent = text;
  toastEl.dataset.kind = kind;
  toastEl.classList.add("show");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => toastEl.classList.remove("show"), 5000);
}

const announcer = document.getElementById("announcer");
function announce(text) {
  announcer.textContent = text;
}

function errorText(err) {
  if (err instanceof APIError) {
    if (err.status === 401) return "The API token is missing or wrong.";
    return err.message;
  }
  return err && err.message ? err.message : String(err);
}

/** askToken opens the token dialog; resolves true when a token was saved. */
function askToken() {
  const dlg = document.getElementById("token-dialog");
  const input = document.getElementById("token-input");
  if (dlg.open) return Promise.resolve(false); // already asking
  input.value = getToken();
  dlg.returnValue = ""; // Escape keeps the last value otherwise
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => {
      if (dlg.returnValue === "save" && input.value.trim()) {
        setToken(input.value.trim());
        toast("Token saved in this browser.");
        resolve(true);
        restart();
      } else if (dlg.returnValue === "forget") {
        setToken("");
        toast("Token forgotten.");
        resolve(false);
        restart();
      } else resolve(false);
    }, { once: true });
    dlg.showModal();
  });
}
document.getElementById("token-button").addEventListener("click", () => askToken());

/** withToken runs fn, asking for the token first when none is stored or when the API refuses it. */
async function withToken(fn) {
  if (!getToken() && !(await askToken())) return undefined;
  try {
    return await fn();
  } catch (err) {
    if (err instanceof APIError && err.status === 401 && (await askToken())) return fn();
    throw err;
  }
}

function confirmDialog(text, yes = "Delete") {
  const dlg = document.getElementById("confirm-dialog");
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-yes").textContent = yes;
  if (dlg.open) return Promise.resolve(false);
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "yes"), { once: true });
    dlg.returnValue = "";
    dlg.showModal();
  });
}

// ---------- channel state, kept live by /api/v1/events ----------

function merge(obj) {
  const st = statusOf(obj);
  if (!st.name) return null;
  const cur = channels.get(st.name) || { name: st.name };
  Object.assign(cur, st);
  channels.set(st.name, cur);
  return cur;
}

function changed(name) {
  for (const fn of listeners) fn(name);
}

async function loadChannels() {
  const list = await api.channels();
  const seen = new Set();
  for (const ch of list) {
    const cur = channels.get(ch.name) || { name: ch.name };
    cur.config = ch;
    Object.assign(cur, statusOf(ch));
    channels.set(ch.name, cur);
    seen.add(ch.name);
  }
  for (const name of [...channels.keys()]) if (!seen.has(name)) channels.delete(name);
  changed(null);
  // The list carries state and metadata; viewers, bit rate, transport and
  // bandwidth come with each channel's status, read once here and again
  // whenever an event says that the channel changed.
  // A few at a time: the browser has few connections per host, and the
  // event stream holds one.
  const names = list.map((ch) => ch.name);
  await Promise.all([0, 1, 2, 3].map(async () => {
    while (names.length) await refreshStatus(names.shift());
  }));
}

const refreshing = new Map(); // name -> {again}
/** refreshStatus reads a channel's status once; calls during a read coalesce into one more. */
async function refreshStatus(name) {
  const r = refreshing.get(name);
  if (r) { r.again = true; return; }
  const me = { again: false };
  refreshing.set(name, me);
  try {
    do {
      me.again = false;
      try {
        const s = await api.status(name);
        merge({ ...s, name });
        changed(name);
      } catch { /* the event stream tells us more later */ }
    } while (me.again);
  } finally {
    refreshing.delete(name);
  }
}

function onChannelEvent(type, data) {
  if (!data || typeof data !== "object") return;
  const st = statusOf(data);
  if (!st.name) return;
  const change = data.change || type;
  if (/delete|remove/i.test(change) || st.state === "deleted" || data.deleted === true) {
    channels.delete(st.name);
    changed(st.name);
    return;
  }
  const known = channels.has(st.name);
  const was = channels.get(st.name)?.state;
  merge(data);
  // Screen readers hear state changes that the list shows by colour.
  if (known && st.state && was && st.state !== was) {
    announce(`${st.name} is ${st.state}${st.state === "failed" && st.reason ? `: ${st.reason}` : ""}.`);
  }
  changed(st.name);
  if (!known || /create|update/i.test(change)) {
    api.channel(st.name).then((c) => { const cur = channels.get(st.name); if (cur && c) cur.config = c; }).catch(() => {});
  }
  // Events carry the state; the figures beside it are read on each change.
  if (data.viewers === undefined) refreshStatus(st.name);
}

let eventsAbort = null;
function startEvents() {
  eventsAbort = new AbortController();
  stream("/events", {
    signal: eventsAbort.signal,
    onMessage: onChannelEvent,
    // At each (re)connection: what happened meanwhile is read once.
    onOpen: () => loadChannels().catch(() => {}),
    onError: () => {},
  });
}
startEvents();

/** restart reopens the event stream and the view, e.g. with a new token. */
function restart() {
  eventsAbort.abort();
  startEvents();
  route();
}

// A page kept in the back/forward cache would keep its event streams (and
// the browser's few connections per host) open: close them when the page is
// hidden, open them again when it comes back.
window.addEventListener("pagehide", () => {
  eventsAbort.abort();
  if (view) view.abort.abort();
});
window.addEventListener("pageshow", (e) => {
  if (!e.persisted) return;
  startEvents();
  route();
});

// ---------- router ----------

function route() {
  if (view) view.abort.abort();
  listeners.clear();
  view = { abort: new AbortController() };
  main.replaceChildren();
  const m = location.pathname.match(/^\/channel\/([^/]+)(\/log)?$/);
  if (m && m[2]) logView(decodeURIComponent(m[1]), view.abort.signal);
  else if (m) playerView(decodeURIComponent(m[1]), view.abort.signal);
  else listView(view.abort.signal);
}

function navigate(href) {
  history.pushState(null, "", href);
  route();
  main.querySelector("h1")?.focus();
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const u = new URL(a.href);
  if (u.origin !== location.origin) return;
  e.preventDefault();
  navigate(u.pathname);
});
window.addEventListener("popstate", route);

// ---------- list view ----------

function listView(signal) {
  document.title = "Channels · mmsgate";
  const urlInput = h("input", { id: "play-url", name: "url", required: true, inputmode: "url", autocomplete: "off", spellcheck: "false", placeholder: "mms://host/path", "aria-describedby": "play-err" });
  const playErr = h("small", { class: "err", id: "play-err" });
  const playForm = h("form", { id: "play-form", class: "play-form", novalidate: true },
    h("label", { for: "play-url" }, "mms:// URL"),
    h("div", { class: "inline" }, urlInput, h("button", { type: "submit", class: "primary" }, "Play")),
    playErr);
  playForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const msg = checkUpstreamURL(urlInput.value.trim());
    playErr.textContent = msg;
    urlInput.setAttribute("aria-invalid", msg ? "true" : "false");
    if (msg) { urlInput.focus(); return; }
    try {
      const name = await withToken(() => playURL(urlInput.value.trim()));
      if (name) navigate(`/channel/${encodeURIComponent(name)}`);
    } catch (err) {
      playErr.textContent = errorText(err);
    }
  });

  const tbody = h("tbody", { id: "channel-rows" });
  const empty = h("p", { class: "empty", id: "channels-empty", hidden: true }, "No channels yet.");
  const loadErr = h("p", { class: "form-error", role: "alert" });
  main.append(
    h("section", { "aria-labelledby": "play-h", class: "card" },
      h("h1", { id: "play-h", tabindex: "-1" }, "Play a URL"),
      h("p", { class: "hint" }, "Paste an mms:// address: it becomes a channel (or reuses the one that has it) and plays here."),
      playForm),
    h("section", { "aria-labelledby": "channels-h" },
      h("div", { class: "section-head" },
        h("h2", { id: "channels-h" }, "Channels"),
        h("button", { type: "button", id: "add-channel", onclick: () => channelForm(null) }, "Add channel")),
      loadErr,
      h("table", { class: "channels" },
        h("thead", {}, h("tr", {},
          ["Channel", "State", "Viewers", "Bit rate", "Transport", "Bandwidth", "Actions"].map((t) => h("th", { scope: "col" }, t)))),
        tbody),
      empty));

  const render = (name) => {
    if (name === null) {
      tbody.replaceChildren(...[...channels.values()].sort((a, b) => a.name.localeCompare(b.name)).map(row));
    } else {
      const old = tbody.querySelector(`tr[data-name="${CSS.escape(name)}"]`);
      const ch = channels.get(name);
      if (!ch) old?.remove();
      else if (old) updateRow(old, ch);
      else {
        const next = [...tbody.children].find((tr) => tr.dataset.name.localeCompare(name) > 0);
        tbody.insertBefore(row(ch), next || null);
      }
    }
    empty.hidden = tbody.children.length > 0;
  };
  listeners.add(render);
  render(null);
  loadChannels().catch((err) => {
    if (signal.aborted) return;
    loadErr.textContent = `Cannot list channels: ${errorText(err)} `;
    if (err instanceof APIError && err.status === 401) {
      loadErr.append(h("button", { type: "button", onclick: () => askToken() }, "Enter the API token"));
    }
  });
}

function row(ch) {
  const tr = h("tr", { dataset: { name: ch.name } });
  const link = h("a", { href: `/channel/${encodeURIComponent(ch.name)}`, "data-nav": true, class: "name" }, ch.name);
  tr.append(
    h("td", { "data-label": "Channel" }, link, h("div", { class: "meta" })),
    h("td", { "data-label": "State", class: "state" }),
    h("td", { "data-label": "Viewers", class: "num viewers" }),
    h("td", { "data-label": "Bit rate", class: "num bitrate" }),
    h("td", { "data-label": "Transport", class: "transport" }),
    h("td", { "data-label": "Bandwidth", class: "num bandwidth" }),
    h("td", { class: "row-actions" },
      h("a", { href: `/channel/${encodeURIComponent(ch.name)}`, "data-nav": true, class: "button", "aria-label": `Play ${ch.name}` }, "Play"),
      h("a", { href: `/channel/${encodeURIComponent(ch.name)}/log`, "data-nav": true, class: "button", "aria-label": `Session log of ${ch.name}` }, "Log"),
      h("button", { type: "button", "aria-label": `Edit ${ch.name}`, onclick: () => channelForm(ch.name) }, "Edit"),
      h("button", { type: "button", class: "danger", "aria-label": `Delete ${ch.name}`, onclick: () => deleteChannel(ch.name) }, "Delete")));
  updateRow(tr, ch);
  return tr;
}

function updateRow(tr, ch) {
  tr.dataset.state = ch.state || "";
  const meta = [ch.title, ch.now_playing && ch.now_playing !== ch.title ? `now playing: ${ch.now_playing}` : ""].filter(Boolean).join(" · ");
  tr.querySelector(".meta").textContent = meta;
  const st = tr.querySelector(".state");
  st.replaceChildren(stateBadge(ch.state, ch.reason));
  if (ch.state === "failed" || ch.state === "reconnecting") {
    if (ch.reason) st.append(h("div", { class: "reason" }, ch.reason));
  }
  tr.querySelector(".viewers").textContent = ch.viewers ?? "–";
  tr.querySelector(".bitrate").textContent = bits(ch.bitrate);
  tr.querySelector(".transport").textContent = ch.state === "live" || ch.state === "reconnecting" ? (ch.transport || "–") : "–";
  tr.querySelector(".bandwidth").textContent = bits(ch.bandwidth);
}

// ---------- Play a URL, channel forms ----------

const SCHEMES = ["mms:", "mmst:", "mmsu:", "mmsh:", "http:"];

/** checkUpstreamURL returns "" for an acceptable upstream URL, else why not. */
function checkUpstreamURL(s) {
  if (!s) return "Enter an address such as mms://host/path.";
  let u;
  try { u = new URL(s); } catch { return "That is not a URL."; }
  if (!SCHEMES.includes(u.protocol)) return "The address must start with mms://, mmst://, mmsu://, mmsh:// or http://.";
  if (!u.hostname) return "The address needs a host name.";
  return "";
}

/** slug makes a channel name from an upstream URL: host and path, URL-safe. */
function slug(s) {
  const u = new URL(s);
  const base = `${u.hostname}${u.pathname}`.toLowerCase().replace(/\.(asf|wmv|wma|asx)$/, "")
    .replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return (base || "channel").slice(0, 48).replace(/-+$/, "");
}

/** upstreamKey is a URL as the gateway stores it: scheme in lower case, no credentials. */
function upstreamKey(s) {
  try {
    const u = new URL(s);
    u.username = "";
    u.password = "";
    return u.href.replace(/^[a-z]+:/i, (m) => m.toLowerCase());
  } catch {
    return s;
  }
}

/** playURL finds the channel of url or creates one; returns its name. */
async function playURL(url) {
  const list = await api.channels();
  const want = upstreamKey(url);
  const same = list.find((c) => c.url && upstreamKey(c.url) === want);
  if (same) return same.name;
  const base = slug(url);
  for (let i = 1; i <= 20; i++) {
    const name = i === 1 ? base : `${base}-${i}`;
    if (list.some((c) => c.name === name)) continue;
    try {
      const ch = await api.create({ name, url, on_demand: true });
      merge(ch || { name });
      if (ch) channels.get(name).config = ch;
      changed(name);
      return name;
    } catch (err) {
      if (err instanceof APIError && err.status === 409) continue;
      throw err;
    }
  }
  throw new Error("Could not find a free channel name.");
}

const form = document.getElementById("channel-form");
const dialog = document.getElementById("channel-dialog");
document.getElementById("channel-cancel").addEventListener("click", () => dialog.close());
let editing = null; // name of the channel being edited, null when adding
let original = null;

/** channelForm opens the add (name null) or edit dialog. */
async function channelForm(name) {
  let ch = {};
  if (name) {
    try {
      ch = await withToken(() => api.channel(name));
      if (!ch) return;
    } catch (err) {
      toast(`Cannot load ${name}: ${errorText(err)}`, "error");
      return;
    }
  } else if (!getToken() && !(await askToken())) return;
  editing = name;
  original = ch;
  form.reset();
  document.getElementById("channel-title").textContent = name ? `Edit ${name}` : "Add a channel";
  document.getElementById("channel-error").textContent = "";
  form.querySelectorAll(".err").forEach((e) => { e.textContent = ""; });
  form.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  const f = form.elements;
  f.name.value = ch.name || "";
  f.name.readOnly = !!name;
  f.url.value = ch.url || "";
  f.transport.value = ch.transport || "auto";
  f.transcode.value = ch.transcode || "auto";
  const outs = ch.outputs || ["hls", "asf"];
  for (const cb of form.querySelectorAll('input[name="outputs"]')) cb.checked = outs.includes(cb.value);
  f.on_demand.checked = name ? !!ch.on_demand : true;
  f.max_bandwidth.value = ch.max_bandwidth ? Math.round(ch.max_bandwidth / 1000) : "";
  f.language.value = ch.language || "";
  f.mmsh_port.value = ch.mmsh_port || "";
  f.username.value = ch.username || "";
  f.password.value = "";
  f.password.placeholder = name ? (ch.has_password ? "stored; type to replace" : "none stored") : "";
  dialog.showModal();
  (name ? f.url : f.name).focus();
}

function fieldError(input, errEl, msg) {
  errEl.textContent = msg;
  input.setAttribute("aria-invalid", msg ? "true" : "false");
  return msg ? input : null;
}

/** validate checks the form and returns the request body, or null. */
function validate() {
  const f = form.elements;
  let first = null;
  const note = (el) => { first = first || el; };
  const name = f.name.value.trim();
  let msg = "";
  if (!editing) {
    if (!name) msg = "A name is needed.";
    else if (!/^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$/.test(name)) msg = "Use letters, digits, dash and underscore (up to 64), starting with a letter or digit.";
  }
  note(fieldError(f.name, document.getElementById("f-name-err"), msg));
  note(fieldError(f.url, document.getElementById("f-url-err"), checkUpstreamURL(f.url.value.trim())));
  const outputs = [...form.querySelectorAll('input[name="outputs"]:checked')].map((c) => c.value);
  const outErr = document.getElementById("f-outputs-err");
  outErr.textContent = outputs.length ? "" : "Choose at least one output.";
  if (!outputs.length) note(form.querySelector('input[name="outputs"]'));
  const mb = f.max_bandwidth.value.trim();
  note(fieldError(f.max_bandwidth, document.getElementById("f-max-bandwidth-err"),
    mb && !/^\d+$/.test(mb) ? "A whole number of kbit/s, or empty for no cap." : ""));
  const lang = f.language.value.trim();
  note(fieldError(f.language, document.getElementById("f-language-err"),
    lang && !/^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$/.test(lang) ? "A language tag such as en or en-US." : ""));
  const mp = f.mmsh_port.value.trim();
  let mpErr = "";
  if (mp && (!/^\d+$/.test(mp) || Number(mp) < 1 || Number(mp) > 65535)) mpErr = "A port from 1 to 65535, or empty for the gateway's default.";
  else if (mp && !/^mms:\/\//i.test(f.url.value.trim())) mpErr = "Only mms:// URLs roll over; put the port in the URL.";
  note(fieldError(f.mmsh_port, document.getElementById("f-mmsh-port-err"), mpErr));
  if (first) { first.focus(); return null; }
  const body = {
    url: f.url.value.trim(),
    transport: f.transport.value,
    transcode: f.transcode.value,
    outputs,
    on_demand: f.on_demand.checked,
    max_bandwidth: mb ? Number(mb) * 1000 : 0,
    language: lang,
    mmsh_port: mp ? Number(mp) : 0,
    username: f.username.value,
  };
  if (f.password.value) body.password = f.password.value;
  if (!editing) body.name = name;
  else {
    // Send what changed; the password only when typed (write-only).
    for (const k of Object.keys(body)) {
      if (k === "password") continue;
      const was = original[k] ?? (k === "max_bandwidth" || k === "mmsh_port" ? 0 : k === "language" || k === "username" ? "" : undefined);
      if (JSON.stringify(was) === JSON.stringify(body[k])) delete body[k];
    }
  }
  return body;
}

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = validate();
  if (!body) return;
  const errEl = document.getElementById("channel-error");
  errEl.textContent = "";
  const submit = document.getElementById("channel-submit");
  submit.disabled = true;
  try {
    const name = editing || body.name;
    const res = editing ? await withToken(() => api.update(editing, body)) : await withToken(() => api.create(body));
    merge(res || { name });
    if (res) channels.get(name).config = res;
    changed(name);
    refreshStatus(name);
    dialog.close();
    toast(editing ? `Saved ${name}.` : `Added ${name}.`);
  } catch (err) {
    errEl.textContent = errorText(err);
    if (err instanceof APIError && err.code === "conflict") document.getElementById("f-name").focus();
  } finally {
    submit.disabled = false;
  }
});

async function deleteChannel(name) {
  if (!(await confirmDialog(`Delete the channel ${name}? Its viewers are disconnected.`))) return;
  try {
    await withToken(() => api.remove(name));
    channels.delete(name);
    changed(name);
    toast(`Deleted ${name}.`);
    if (location.pathname !== "/") navigate("/");
  } catch (err) {
    toast(`Cannot delete ${name}: ${errorText(err)}`, "error");
  }
}

// ---------- player view ----------

function copyField(id, label, value, multiline = false) {
  const field = multiline
    ? h("textarea", { id, readonly: true, rows: value.split("\n").length + 1, spellcheck: "false" }, value)
    : h("input", { id, readonly: true, value, spellcheck: "false" });
  const btn = h("button", { type: "button", "aria-label": `Copy ${label}` }, "Copy");
  btn.addEventListener("click", async () => {
    const ok = await copyText(field.value, field);
    toast(ok ? `${label} copied.` : "Select the text and copy it.");
  });
  return { field, el: h("div", { class: "copy" }, h("label", { for: id }, label), h("div", { class: "inline" }, field, btn)) };
}

function snippetVideo(name) {
  return `<video id="mmsgate-${name}" controls playsinline muted autoplay style="width:100%;max-width:960px"></video>
<script src="${urls.hlsjs()}"></script>
<script>
  (function () {
    var video = document.getElementById("mmsgate-${name}");
    var src = "${urls.hls(name)}";
    if (window.Hls && Hls.isSupported()) {
      var hls = new Hls();
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
    }
  })();
</script>`;
}

function snippetIframe(name, autoplay) {
  const q = autoplay ? "?autoplay=1" : "";
  return `<iframe src="${urls.embed(name)}${q}" width="640" height="360" style="max-width:100%;aspect-ratio:16/9;height:auto;border:0" allow="autoplay; fullscreen; picture-in-picture" allowfullscreen title="${name}"></iframe>`;
}

function playerView(name, signal) {
  document.title = `${name} · mmsgate`;
  const ch = () => channels.get(name) || { name };
  const badge = h("span", { id: "player-state" });
  const reason = h("p", { class: "reason", id: "player-reason" });
  const video = h("video", { id: "video", controls: true, playsinline: true, preload: "auto", "aria-label": `${name} player` });
  const radio = h("div", { class: "radio", id: "radio", hidden: true },
    h("p", { class: "radio-title", id: "radio-title" }),
    h("p", { class: "radio-author", id: "radio-author" }),
    h("p", { class: "radio-now", id: "radio-now" }));
  const msg = h("p", { class: "player-msg", role: "status", id: "player-msg" });
  const unmute = h("button", { type: "button", hidden: true, id: "unmute" }, "Unmute");
  unmute.addEventListener("click", () => { video.muted = false; unmute.hidden = true; });

  const dd = {};
  const fact = (key, label) => { dd[key] = h("dd", { id: `fact-${key}` }, "–"); return [h("dt", {}, label), dd[key]]; };
  const facts = h("dl", { class: "facts" },
    fact("state", "State"), fact("viewers", "Viewers"), fact("bitrate", "Bit rate"), fact("transport", "Transport"),
    fact("bandwidth", "Bandwidth"), fact("latency", "Latency"), fact("buffer", "Buffer"),
    fact("title", "Title"), fact("author", "Author"), fact("now_playing", "Now playing"));

  const hlsURL = copyField("url-hls", "HLS URL", urls.hls(name));
  const asfURL = copyField("url-asf", "ASF URL (VLC, mpv)", urls.asf(name));
  const autoplayBox = h("input", { type: "checkbox", id: "embed-autoplay", checked: true });
  const iframeSnippet = copyField("snippet-iframe", "iframe", snippetIframe(name, true), true);
  autoplayBox.addEventListener("change", () => { iframeSnippet.field.value = snippetIframe(name, autoplayBox.checked); });
  const videoSnippet = copyField("snippet-video", "video element with hls.js", snippetVideo(name), true);
  const rawSnippet = copyField("snippet-raw", "raw HLS URL", urls.hls(name));

  const actions = h("div", { class: "actions" },
    h("button", { type: "button", id: "start-channel", onclick: () => control("start") }, "Start"),
    h("button", { type: "button", id: "stop-channel", onclick: () => control("stop") }, "Stop"),
    h("button", { type: "button", onclick: () => channelForm(name) }, "Edit"),
    h("button", { type: "button", class: "danger", onclick: () => deleteChannel(name) }, "Delete"),
    h("a", { href: `/channel/${encodeURIComponent(name)}/log`, "data-nav": true, class: "button", id: "log-link" }, "Session log"));

  async function control(what) {
    try {
      await withToken(() => (what === "start" ? api.start(name) : api.stop(name)));
      toast(what === "start" ? `Starting ${name}.` : `Stopped ${name}.`);
    } catch (err) {
      toast(`Cannot ${what} ${name}: ${errorText(err)}`, "error");
    }
  }

  main.append(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/", "data-nav": true }, "Channels"), " / ", name),
    h("div", { class: "title-row" }, h("h1", { tabindex: "-1" }, name), badge),
    reason,
    h("div", { class: "player-grid" },
      h("div", { class: "player" }, video, radio, h("div", { class: "inline" }, msg, unmute)),
      h("aside", { class: "card", "aria-label": "Channel status" }, facts, actions)),
    h("section", { "aria-labelledby": "watch-h", class: "card" },
      h("h2", { id: "watch-h" }, "Watch elsewhere"),
      hlsURL.el, asfURL.el,
      h("p", { class: "hint" }, "In a terminal: ", h("code", {}, `vlc ${urls.asf(name)}`), " or ", h("code", {}, `mpv ${urls.asf(name)}`))),
    h("section", { "aria-labelledby": "embed-h", class: "card" },
      h("h2", { id: "embed-h" }, "Embed"),
      h("label", { class: "check" }, autoplayBox, " Start playing at once (muted)"),
      iframeSnippet.el, videoSnippet.el, rawSnippet.el));

  const render = (n) => {
    if (n !== null && n !== name) return;
    const c = ch();
    badge.replaceChildren(stateBadge(c.state, c.reason));
    reason.textContent = (c.state === "failed" || c.state === "reconnecting") && c.reason ? c.reason : "";
    dd.state.textContent = c.state || "–";
    dd.viewers.textContent = c.viewers ?? "–";
    dd.bitrate.textContent = bits(c.bitrate);
    dd.transport.textContent = c.transport || "–";
    dd.bandwidth.textContent = bits(c.bandwidth);
    dd.title.textContent = c.title || "–";
    dd.author.textContent = c.author || "–";
    dd.now_playing.textContent = c.now_playing || "–";
    document.getElementById("radio-title").textContent = c.title || name;
    document.getElementById("radio-author").textContent = c.author || "";
    document.getElementById("radio-now").textContent = c.now_playing ? `Now playing: ${c.now_playing}` : "";
  };
  listeners.add(render);
  render(name);
  api.status(name).then((s) => { merge({ name, ...s }); render(name); }).catch((err) => {
    if (err instanceof APIError && err.status === 404) reason.textContent = "No such channel.";
  });

  const player = attach(video, urls.hls(name), {
    lowLatency: (ch().config?.outputs || []).includes("llhls"),
    onAudioOnly: (yes) => { radio.hidden = !yes; video.classList.toggle("audio-only", yes); },
    onMessage: (t) => { msg.textContent = t; },
    onMuted: () => { unmute.hidden = false; },
  });
  player.play();
  const tick = setInterval(() => {
    const s = player.stats();
    dd.latency.textContent = seconds(s.latency);
    dd.buffer.textContent = seconds(s.buffer);
  }, 1000);
  signal.addEventListener("abort", () => { clearInterval(tick); player.destroy(); }, { once: true });
}

// ---------- session log page ----------

/**
 * logView shows a channel's live session log and past sessions. It is a
 * page of its own, without a player, so that watching the log does not make
 * the operator a viewer (which would keep an on-demand channel running).
 */
function logView(name, signal) {
  document.title = `${name} log · mmsgate`;
  const badge = h("span", { id: "log-state" });
  const reason = h("p", { class: "reason", id: "log-reason" });
  const dd = {};
  const fact = (key, label) => { dd[key] = h("dd", { id: `fact-${key}` }, "–"); return [h("dt", {}, label), dd[key]]; };
  const facts = h("dl", { class: "facts facts-wide" },
    fact("viewers", "Viewers"), fact("bitrate", "Bit rate"), fact("transport", "Transport"),
    fact("bandwidth", "Bandwidth"), fact("latency", "Gateway latency"), fact("now_playing", "Now playing"));
  const section = h("section", { "aria-labelledby": "log-h", class: "card" });
  main.append(
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("a", { href: "/", "data-nav": true }, "Channels"), " / ",
      h("a", { href: `/channel/${encodeURIComponent(name)}`, "data-nav": true }, name), " / log"),
    h("div", { class: "title-row" }, h("h1", { tabindex: "-1" }, `${name}: session log`), badge),
    reason,
    h("div", { class: "card" }, facts),
    section);
  const render = (n) => {
    if (n !== null && n !== name) return;
    const c = channels.get(name) || { name };
    badge.replaceChildren(stateBadge(c.state, c.reason));
    reason.textContent = (c.state === "failed" || c.state === "reconnecting") && c.reason ? c.reason : "";
    dd.viewers.textContent = c.viewers ?? "–";
    dd.bitrate.textContent = bits(c.bitrate);
    dd.transport.textContent = c.transport || "–";
    dd.bandwidth.textContent = bits(c.bandwidth);
    dd.latency.textContent = seconds(c.latency);
    dd.now_playing.textContent = c.now_playing || "–";
  };
  listeners.add(render);
  render(name);
  refreshStatus(name);
  sessionLog(name, section, signal);
}

// ---------- session logs ----------

function fieldsText(fields) {
  if (!fields || typeof fields !== "object") return "";
  return Object.entries(fields).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" ");
}

function logItem(ev) {
  return h("li", { class: `ev kind-${String(ev.kind || "").replace(/[^a-z0-9_-]/gi, "")}` },
    h("time", { datetime: ev.time }, clock(ev.time)), " ",
    h("span", { class: "kind" }, ev.kind || "?"), " ",
    h("span", { class: "msg" }, ev.message || ""), " ",
    h("span", { class: "fields" }, fieldsText(ev.fields)));
}

/** ended: a session is over when its outcome says so or it has a real end time. */
const ended = (s) => {
  if (s.outcome) return s.outcome !== "running";
  const t = s.ended_at || s.end || s.ended;
  return !!t && !String(t).startsWith("0001-");
};

function sessionLog(name, section, signal) {
  section.append(h("h2", { id: "log-h" }, "Session log"));
  if (!getToken()) {
    section.append(h("p", {}, "Session logs need the API token. ",
      h("button", { type: "button", onclick: () => askToken() }, "Enter the API token")));
    return;
  }
  const liveHead = h("h3", { id: "live-log-h" }, "Current session");
  const live = h("ol", { class: "log", id: "live-log", role: "log", "aria-labelledby": "live-log-h" });
  const liveNote = h("p", { class: "hint", id: "live-log-note" }, "Waiting for a session…");
  const pastBody = h("tbody", { id: "sessions-rows" });
  const pastLog = h("div", { id: "past-log" });
  section.append(liveHead, liveNote, live,
    h("h3", {}, "Past sessions"),
    h("table", { class: "sessions" },
      h("thead", {}, h("tr", {}, ["Started", "Duration", "Transport", "Outcome", "Statistics", ""].map((t) => h("th", { scope: "col" }, t)))),
      pastBody),
    pastLog);

  let current = null; // {id, abort}
  const finished = new Set(); // sessions whose stream said "end"
  let reloading = false, again = false;

  function follow(id) {
    if ((current && current.id === id) || finished.has(id)) return;
    if (current) current.abort.abort();
    const abort = new AbortController();
    signal.addEventListener("abort", () => abort.abort(), { once: true });
    current = { id, abort };
    live.replaceChildren();
    live.dataset.session = id;
    liveNote.textContent = `Session ${id}, live:`;
    const seen = new Set();
    stream(`/sessions/${encodeURIComponent(id)}/log`, {
      signal: abort.signal,
      onMessage: (type, ev) => {
        if (type === "end") {
          // The session is over and the server closed the stream.
          abort.abort();
          finished.add(id);
          if (current && current.id === id) current = null;
          liveNote.textContent = `Session ${id} ended; its statistics are below.`;
          reload();
          return;
        }
        if (!ev || typeof ev !== "object" || (!ev.kind && !ev.message)) return;
        const key = ev.seq !== undefined ? `#${ev.seq}` : `${ev.time}|${ev.kind}|${ev.message}|${fieldsText(ev.fields)}`;
        if (seen.has(key)) return;
        seen.add(key);
        const atBottom = live.scrollTop + live.clientHeight >= live.scrollHeight - 8;
        live.append(logItem(ev));
        while (live.children.length > 2000) live.firstElementChild.remove();
        if (atBottom) live.scrollTop = live.scrollHeight;
        if (ev.kind === "end" || ev.kind === "stats" || ev.kind === "error") reload();
      },
      onError: (err) => {
        if (err) liveNote.textContent = `Session ${id}: ${errorText(err)}`;
        reload(); // a closed stream usually means the session ended
      },
    });
  }

  async function reload() {
    if (reloading) { again = true; return; }
    reloading = true;
    try {
      do {
        again = false;
        const list = await api.sessions(name);
        if (signal.aborted) return;
        // The newest session that is still open and whose stream has not
        // said "end": the store may mark a stopped session ended only after
        // its stream closed, while the next session already runs.
        const open = list.filter((s) => !ended(s) && !finished.has(String(s.id)))
          .reduce((a, s) => (!a || Number(s.id) > Number(a.id) ? s : a), null);
        if (open) follow(String(open.id));
        else if (current) {
          current.abort.abort();
          current = null;
          liveNote.textContent = "No session is running; the last one is below.";
        }
        pastBody.replaceChildren(...list.filter(ended).map(sessionRow));
        if (!list.filter(ended).length) pastBody.append(h("tr", {}, h("td", { colspan: 6, class: "empty" }, "None yet.")));
      } while (again && !signal.aborted);
    } catch (err) {
      if (!signal.aborted) liveNote.textContent = `Cannot list sessions: ${errorText(err)}`;
    } finally {
      reloading = false;
    }
  }

  function sessionRow(s) {
    const stats = s.stats || s.statistics || {};
    const dl = h("dl", { class: "stats" }, Object.entries(stats).flatMap(([k, v]) =>
      [h("dt", {}, k.replace(/_/g, " ")), h("dd", {}, typeof v === "object" ? JSON.stringify(v) : String(v))]));
    const show = h("button", { type: "button", "aria-label": `Show the log of session ${s.id}` }, "Show log");
    show.addEventListener("click", async () => {
      try {
        const evs = await api.log(String(s.id));
        pastLog.replaceChildren(h("h3", { tabindex: "-1", id: "past-log-h" }, `Log of session ${s.id}`),
          h("ol", { class: "log", "aria-labelledby": "past-log-h" }, evs.map(logItem)));
        pastLog.querySelector("h3").focus();
      } catch (err) {
        toast(`Cannot load the log: ${errorText(err)}`, "error");
      }
    });
    const start = s.started_at || s.start || s.started;
    const end = ended(s) ? (s.ended_at || s.end || s.ended) : null;
    return h("tr", { dataset: { id: String(s.id) } },
      h("td", { "data-label": "Started" }, time(start)),
      h("td", { "data-label": "Duration" }, duration(start, end)),
      h("td", { "data-label": "Transport" }, s.transport || "–"),
      h("td", { "data-label": "Outcome" }, [s.outcome || "ended", s.reason || s.error].filter(Boolean).join(": ")),
      h("td", { "data-label": "Statistics" }, Object.keys(stats).length ? h("details", {}, h("summary", {}, "Show"), dl) : "–"),
      h("td", {}, show));
  }

  // A state change of this channel may mean a new session: look again.
  let lastState = null;
  listeners.add((n) => {
    if (n !== name) return;
    const st = channels.get(name)?.state;
    // A new state may mean a new session; and a running channel whose
    // session this view does not follow yet is looked up again at its next
    // event (status events come at most once a second).
    if (st !== lastState || (!current && (st === "live" || st === "starting" || st === "reconnecting"))) {
      lastState = st;
      reload();
    }
  });
  reload();
}

route();
