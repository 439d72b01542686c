// The gateway's REST API (/api/v1) and its server-sent events, read with
// fetch() so that the Bearer token can be sent with event streams too
// (EventSource cannot send headers).

const TOKEN_KEY = "mmsgate.token";

export function getToken() {
  try { return localStorage.getItem(TOKEN_KEY) || ""; } catch { return ""; }
}

export function setToken(t) {
  try {
    if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
  } catch { /* storage disabled: the token lives for this page only */ }
}

/** APIError carries the API's {"error": {"code", "message"}} and the HTTP status. */
export class APIError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || "";
  }
}

function headers(extra) {
  const h = { Accept: "application/json", ...extra };
  const t = getToken();
  if (t) h.Authorization = `Bearer ${t}`;
  return h;
}

/** request calls the API and returns its JSON (or null for 204). */
export async function request(method, path, body, { signal } = {}) {
  const init = { method, headers: headers(body !== undefined ? { "Content-Type": "application/json" } : {}), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(`/api/v1${path}`, init);
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new APIError(res.status, e.code, e.message || (typeof data?.error === "string" ? data.error : text.slice(0, 200)));
  }
  return data;
}

const enc = encodeURIComponent;

/** items returns the array of a list answer ({"items": [...]} or a bare array). */
export function items(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  return [];
}

/** allChannels reads every page of the channel list (the API gives at most 1000 at a time). */
async function allChannels() {
  const out = [];
  for (let offset = 0; offset < 100000;) {
    const data = await request("GET", `/channels?limit=1000&offset=${offset}`);
    const page = items(data);
    out.push(...page);
    offset += page.length;
    if (!page.length || page.length < 1000 || (data && typeof data.total === "number" && offset >= data.total)) break;
  }
  return out;
}

/** sessionLog reads a stored session log page by page, oldest first. */
async function sessionLog(id, max = 20000) {
  const out = [];
  let after = 0;
  while (out.length < max) {
    const page = items(await request("GET", `/sessions/${enc(id)}/log?limit=1000&after=${after}`));
    out.push(...page);
    if (page.length < 1000) break;
    const last = page[page.length - 1].seq;
    if (typeof last !== "number" || last <= after) break;
    after = last;
  }
  return out;
}

export const api = {
  channels: allChannels,
  channel: (name) => request("GET", `/channels/${enc(name)}`),
  status: (name) => request("GET", `/channels/${enc(name)}/status`),
  create: (ch) => request("POST", "/channels", ch),
  update: (name, ch) => request("PATCH", `/channels/${enc(name)}`, ch),
  remove: (name) => request("DELETE", `/channels/${enc(name)}`),
  start: (name) => request("POST", `/channels/${enc(name)}/start`),
  stop: (name) => request("POST", `/channels/${enc(name)}/stop`),
  sessions: (name) => request("GET", `/channels/${enc(name)}/sessions?limit=20`).then(items),
  session: (id) => request("GET", `/sessions/${enc(id)}`),
  log: (id) => sessionLog(id),
};

export const urls = {
  hls: (name) => `${location.origin}/hls/${enc(name)}/index.m3u8`,
  asf: (name) => `${location.origin}/asf/${enc(name)}`,
  embed: (name) => `${location.origin}/embed/${enc(name)}`,
  hlsjs: () => `${location.origin}/static/vendor/hls.min.js`,
};

/**
 * stream reads server-sent events from path until signal aborts, reconnecting
 * with backoff. onMessage(type, data) gets the event name and the parsed JSON
 * (or the raw text). onOpen runs at each (re)connection, so callers can
 * resynchronise what they may have missed; onError(err) reports failures.
 */
export async function stream(path, { signal, onMessage, onOpen, onError }) {
  let delay = 500;
  let lastID = "";
  while (!signal.aborted) {
    try {
      const h = headers({ Accept: "text/event-stream" });
      if (lastID) h["Last-Event-ID"] = lastID;
      const res = await fetch(`/api/v1${path}`, { headers: h, signal, cache: "no-store" });
      if (!res.ok) {
        let msg = `HTTP ${res.status}`;
        try { msg = (await res.json()).error.message || msg; } catch { /* not JSON */ }
        throw new APIError(res.status, "", msg);
      }
      delay = 500;
      onOpen?.();
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = "";
      let type = "", data = [];
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.search(/\r\n|\r|\n/)) >= 0) {
          // A CR at the end of what arrived may be the first half of a CRLF.
          if (buf[i] === "\r" && i === buf.length - 1) break;
          const line = buf.slice(0, i);
          buf = buf.slice(buf[i] === "\r" && buf[i + 1] === "\n" ? i + 2 : i + 1);
          if (line === "") {
            if (data.length) {
              const text = data.join("\n");
              let v = text;
              try { v = JSON.parse(text); } catch { /* plain text */ }
              onMessage(type || "message", v);
            }
            type = ""; data = [];
            continue;
          }
          if (line.startsWith(":")) continue;
          const c = line.indexOf(":");
          const field = c < 0 ? line : line.slice(0, c);
          let val = c < 0 ? "" : line.slice(c + 1);
          if (val.startsWith(" ")) val = val.slice(1);
          if (field === "data") data.push(val);
          else if (field === "event") type = val;
          else if (field === "id") lastID = val;
          else if (field === "retry" && /^\d+$/.test(val)) delay = Math.max(250, +val);
        }
      }
      if (signal.aborted) return;
      onError?.(null); // the server closed the stream: reconnect
    } catch (err) {
      if (signal.aborted) return;
      onError?.(err);
      if (err instanceof APIError && (err.status === 401 || err.status === 403 || err.status === 404)) {
        return; // reconnecting cannot help
      }
    }
    await sleep(delay, signal);
    delay = Math.min(delay * 2, 10000);
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/**
 * statusOf brings a channel, a status object or an event's data to one shape:
 * {name, state, reason, viewers, bitrate, transport, bandwidth, title, author,
 * now_playing, latency, has_video}. Missing fields stay undefined so that a
 * partial update does not erase what is known.
 */
export function statusOf(o) {
  if (!o || typeof o !== "object") return {};
  const f = o.fields && typeof o.fields === "object" ? o.fields : {};
  const s = o.status && typeof o.status === "object" ? o.status : {};
  const m = o.metadata && typeof o.metadata === "object" ? o.metadata : {};
  const pick = (...keys) => {
    for (const src of [o, s, f, m]) {
      for (const k of keys) if (src[k] !== undefined && src[k] !== null) return src[k];
    }
    return undefined;
  };
  const out = {
    name: pick("name", "channel"),
    state: pick("state"),
    reason: pick("reason", "error"),
    viewers: pick("viewers"),
    bitrate: pick("bitrate", "bit_rate"),
    transport: pick("transport_in_use", "active_transport", "current_transport"),
    bandwidth: pick("bandwidth", "bandwidth_estimate", "estimated_bandwidth"),
    title: pick("title"),
    author: pick("author"),
    now_playing: pick("now_playing", "nowPlaying"),
    latency: pick("latency", "latency_seconds"),
    session_id: pick("session_id"),
    has_video: pick("has_video"),
  };
  const ms = pick("latency_ms");
  if (out.latency === undefined && typeof ms === "number") out.latency = ms / 1000;
  // "transport" on a channel is its configured preference; on a status
  // (which always counts viewers) it is the transport in use.
  if (out.transport === undefined) {
    if (o.viewers !== undefined) out.transport = o.transport;
    else if (s.viewers !== undefined) out.transport = s.transport;
  }
  // A state change clears the reason unless the event carries one.
  if (out.state !== undefined && out.reason === undefined) out.reason = "";
  if (typeof out.reason === "object") out.reason = JSON.stringify(out.reason);
  for (const k of Object.keys(out)) if (out[k] === undefined || out[k] === "" && k === "transport") delete out[k];
  return out;
}
