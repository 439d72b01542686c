// /embed/{name}: the player alone, made for an <iframe>.
// ?autoplay=1 starts at once (muted, as browsers require), ?muted=1 starts
// muted, ?controls=0 hides the controls.

import { attach } from "./player.js";
import { statusOf } from "./api.js";

const name = decodeURIComponent(location.pathname.split("/").pop() || "");
const q = new URLSearchParams(location.search);
const on = (k) => ["1", "true", "yes"].includes((q.get(k) || "").toLowerCase());

const video = document.getElementById("video");
const overlay = document.getElementById("overlay");
const message = document.getElementById("message");
document.title = `${name} · mmsgate`;
video.setAttribute("aria-label", `${name} player`);
if (q.get("controls") === "0") video.controls = false;
const autoplay = on("autoplay");
if (autoplay || on("muted")) video.muted = true;
if (autoplay) video.preload = "auto";

function say(t) {
  message.textContent = t;
  message.hidden = !t;
}

let audioOnly = false;
const player = attach(video, `/hls/${encodeURIComponent(name)}/index.m3u8`, {
  onAudioOnly: (yes) => {
    audioOnly = yes;
    overlay.hidden = !yes;
    if (yes) showMeta();
  },
  onMessage: say,
});
if (autoplay) player.play();
// Leaving the page stops loading (the back/forward cache would keep it going).
window.addEventListener("pagehide", (e) => { if (e.persisted) player.destroy(); });
window.addEventListener("pageshow", (e) => { if (e.persisted) location.reload(); });

// The channel's title and "now playing" for radio; public by default, and
// the page plays without them when the gateway keeps metadata private.
async function showMeta() {
  try {
    const res = await fetch(`/api/v1/channels/${encodeURIComponent(name)}/status`, { headers: { Accept: "application/json" } });
    if (!res.ok) return;
    const s = statusOf(await res.json());
    document.getElementById("meta-title").textContent = [s.title || name, s.author].filter(Boolean).join(" — ");
    document.getElementById("meta-now").textContent = s.now_playing ? `Now playing: ${s.now_playing}` : "";
  } catch { /* metadata is a nicety */ }
}
video.addEventListener("play", () => { if (audioOnly) showMeta(); });

// Tell the embedding page how playback goes (no secrets: state and clock
// only), so that a site can react to it: {source: "mmsgate", name, event,
// currentTime, paused, muted}. Sent on play, playing, pause, ended and error,
// and about once a second while playing.
if (window.parent !== window) {
  let last = 0;
  const post = (event) => {
    window.parent.postMessage({
      source: "mmsgate", name, event, engine: player.engine,
      currentTime: video.currentTime, paused: video.paused, muted: video.muted,
    }, "*");
  };
  for (const ev of ["play", "playing", "pause", "ended", "error"]) video.addEventListener(ev, () => post(ev));
  video.addEventListener("timeupdate", () => {
    const now = performance.now();
    if (now - last >= 1000) { last = now; post("timeupdate"); }
  });
}
