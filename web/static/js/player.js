// Plays a channel's HLS stream in a <video> element: through hls.js wherever
// the browser has Media Source Extensions (Hls.isSupported()), natively only
// where MSE is missing (iOS Safari). Desktop Chromium answers "maybe" to
// canPlayType("application/vnd.apple.mpegurl"), so asking that first would
// leave hls.js unused where it matters most.

/**
 * attach starts loading src into video and returns a controller:
 * {engine, stats(), play(), destroy()}. Callbacks: onAudioOnly(bool) when the
 * stream turns out to carry no picture, onMessage(text) for the person
 * watching ("" clears it), onMuted() when autoplay forced muting.
 */
export function attach(video, src, { onAudioOnly, onMessage, onMuted, lowLatency = false } = {}) {
  const Hls = window.Hls;
  let hls = null;
  let destroyed = false;
  let retryTimer = 0;
  const say = (t) => onMessage?.(t);

  const checkAudioOnly = () => {
    if (video.readyState >= 1) onAudioOnly?.(video.videoWidth === 0);
  };
  video.addEventListener("loadedmetadata", checkAudioOnly);
  video.addEventListener("resize", checkAudioOnly);
  const onPlaying = () => say("");
  video.addEventListener("playing", onPlaying);

  function start() {
    if (destroyed) return;
    hls = new Hls({
      lowLatencyMode: lowLatency,
      backBufferLength: 30,
      liveDurationInfinity: true,
      // The gateway waits for the first segment itself; give it time.
      manifestLoadPolicy: {
        default: {
          maxTimeToFirstByteMs: 20000,
          maxLoadTimeMs: 30000,
          timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
          errorRetry: { maxNumRetry: 3, retryDelayMs: 1000, maxRetryDelayMs: 8000 },
        },
      },
    });
    hls.on(Hls.Events.MANIFEST_PARSED, (_e, data) => {
      const lv = data.levels || [];
      if (lv.length && lv.every((l) => !l.videoCodec && !l.width && l.audioCodec)) onAudioOnly?.(true);
    });
    hls.on(Hls.Events.ERROR, (_e, data) => {
      if (!data.fatal) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        say("Recovering from a media error…");
        hls.recoverMediaError();
        return;
      }
      const status = data.response && data.response.code;
      say(status === 503 ? "The channel cannot start right now; retrying…"
        : status === 404 ? "No such channel."
        : "The stream is unreachable; retrying…");
      if (status === 404) return;
      hls.destroy();
      hls = null;
      retryTimer = setTimeout(start, 3000);
    });
    hls.loadSource(src);
    hls.attachMedia(video);
  }

  let engine;
  if (Hls && Hls.isSupported()) {
    engine = "hls.js";
    start();
  } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
    engine = "native";
    video.src = src;
  } else {
    engine = "none";
    say("This browser can play neither HLS nor Media Source Extensions. Use the ASF URL in VLC or mpv.");
  }
  video.dataset.engine = engine;

  return {
    engine,
    /** stats returns {latency, buffer} in seconds (undefined when unknown). */
    stats() {
      let buffer;
      const t = video.currentTime;
      for (let i = 0; i < video.buffered.length; i++) {
        if (video.buffered.start(i) <= t + 0.1 && t <= video.buffered.end(i)) buffer = video.buffered.end(i) - t;
      }
      let latency;
      if (hls && Number.isFinite(hls.latency) && hls.latency > 0) latency = hls.latency;
      else if (video.seekable.length) latency = video.seekable.end(video.seekable.length - 1) - t;
      return { latency, buffer };
    },
    /** play starts playback, muting when the browser refuses sound without a gesture. */
    async play() {
      try {
        await video.play();
      } catch (err) {
        if (err && err.name === "NotAllowedError" && !video.muted) {
          video.muted = true;
          onMuted?.();
          try { await video.play(); } catch { /* the person presses play */ }
        }
      }
    },
    destroy() {
      destroyed = true;
      clearTimeout(retryTimer);
      video.removeEventListener("loadedmetadata", checkAudioOnly);
      video.removeEventListener("resize", checkAudioOnly);
      video.removeEventListener("playing", onPlaying);
      if (hls) hls.destroy();
      hls = null;
      video.removeAttribute("src");
      video.load();
    },
  };
}
