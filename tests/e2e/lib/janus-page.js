// Browser-side Janus VideoRoom client for Amphi's end-to-end tests.
//
// Raw Janus JSON over `new WebSocket(url, 'janus-protocol')`; no janus.js, no adapter.
// Injected into pages with page.addInitScript({path}) and driven with page.evaluate.
// Exposes window.amphiStage:
//   publish({janusUrl, janusRoom, token, display, iceServers?, timeoutMs?})
//       → {feedId, privateId, sessionId, handleId, publishers}; resolves on webrtcup
//   subscribe({janusUrl, janusRoom, token, feedId?, iceServers?, timeoutMs?})
//       → {feedId, sessionId, handleId}; resolves once a video track arrived and ICE is up
//   framesDecoded()        → sum of inbound-rtp video framesDecoded over all subscriptions
//   videoStats()           → per subscription: framesDecoded, frameWidth, bytesReceived, ...
//   leave()                → unpublish/leave, hang up, destroy sessions, stop media
//   tryJoinPublisher({janusUrl, janusRoom, token, display, publish?})
//       → {ok:true, feedId} or {ok:false, stage, code, reason}; never throws; cleans up
//   trySubscribe({...})    → like subscribe, but {ok, stage, code, reason}
// State: kicked, kickedAt, kickReason, feeds (feedId → display, from "publishers"
// events), events (log of everything Janus pushed), lastError.
(() => {
  if (window.amphiStage) return;

  const KEEPALIVE_MS = 25000;
  const rand = () => Math.random().toString(36).slice(2, 12);

  class JanusError extends Error {
    constructor(stage, code, reason) {
      super(`janus ${stage} failed: ${code} ${reason}`);
      this.stage = stage;
      this.code = code;
      this.reason = reason;
    }
  }

  function withTimeout(promise, ms, what) {
    let timer;
    return Promise.race([
      promise,
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new JanusError(what, 0, `timeout after ${ms} ms`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  const stage = {
    kicked: false,
    kickedAt: null,
    kickReason: null,
    feeds: {},
    events: [],
    lastError: null,
    connections: [],   // every JanusConn opened by this page
    publisher: null,   // {conn, handleId, pc, stream, feedId}
    subscribers: [],   // [{conn, handleId, pc, feedId, tracks}]
  };

  function record(kind, detail) {
    const entry = { t: Date.now(), kind, ...detail };
    stage.events.push(entry);
    if (stage.events.length > 500) stage.events.shift();
    return entry;
  }

  // One WebSocket = one Janus session.
  class JanusConn {
    constructor(url, token, role) {
      this.url = url;
      this.token = token;
      this.role = role;
      this.pending = new Map();      // transaction → {resolve, reject, wantEvent}
      this.handleListeners = new Map(); // handleId → fn(msg)
      this.sessionId = null;
      this.closed = false;
      this.keepalive = null;
    }

    open(timeoutMs = 10000) {
      return withTimeout(new Promise((resolve, reject) => {
        let ws;
        try {
          ws = new WebSocket(this.url, 'janus-protocol');
        } catch (e) {
          reject(new JanusError('connect', 0, String(e)));
          return;
        }
        this.ws = ws;
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new JanusError('connect', 0, `websocket error on ${this.url}`));
        ws.onclose = (ev) => this.onClose(ev);
        ws.onmessage = (ev) => this.onMessage(ev.data);
      }), timeoutMs, 'connect');
    }

    isMainPublisher() {
      return !!(stage.publisher && stage.publisher.conn === this && !stage.publisher.leaving);
    }

    onClose(ev) {
      const wasOpen = !this.closed;
      this.closed = true;
      clearInterval(this.keepalive);
      for (const p of this.pending.values()) {
        p.reject(new JanusError('transport', 0, `websocket closed (${ev.code})`));
      }
      this.pending.clear();
      record('ws-close', { role: this.role, code: ev.code, reason: ev.reason });
      if (wasOpen && !this.leaving && this.isMainPublisher()) markKicked(`websocket closed (${ev.code})`);
    }

    onMessage(text) {
      let msg;
      try { msg = JSON.parse(text); } catch { return; }
      const tx = msg.transaction;
      if (tx && this.pending.has(tx)) {
        const p = this.pending.get(tx);
        if (msg.janus === 'ack' && p.wantEvent) return; // the event follows
        this.pending.delete(tx);
        p.resolve(msg);
        // A plugin event answering a request may also carry room news (publishers).
        if (msg.janus === 'event') this.dispatch(msg);
        return;
      }
      this.dispatch(msg);
    }

    dispatch(msg) {
      const sender = msg.sender;
      const fn = sender != null ? this.handleListeners.get(sender) : null;
      if (fn) fn(msg);
      if (msg.janus === 'timeout') {
        record('session-timeout', { role: this.role });
        if (this.isMainPublisher()) markKicked('session timeout');
      }
    }

    send(body) {
      if (this.closed || !this.ws || this.ws.readyState !== WebSocket.OPEN) {
        return Promise.reject(new JanusError('transport', 0, 'websocket not open'));
      }
      const msg = { ...body };
      if (this.token) msg.token = this.token;
      if (this.sessionId != null && msg.session_id == null && msg.janus !== 'create') {
        msg.session_id = this.sessionId;
      }
      this.ws.send(JSON.stringify(msg));
    }

    request(body, { wantEvent = false, timeoutMs = 15000, stage: what = body.janus } = {}) {
      const transaction = rand();
      const p = new Promise((resolve, reject) => {
        this.pending.set(transaction, { resolve, reject, wantEvent });
      });
      try {
        this.send({ ...body, transaction });
      } catch (e) {
        this.pending.delete(transaction);
        return Promise.reject(e);
      }
      return withTimeout(p, timeoutMs, what).finally(() => this.pending.delete(transaction));
    }

    async createSession() {
      const r = await this.request({ janus: 'create' }, { stage: 'create' });
      if (r.janus !== 'success') throw coreError('create', r);
      this.sessionId = r.data.id;
      this.keepalive = setInterval(() => {
        this.request({ janus: 'keepalive' }, { stage: 'keepalive' }).catch(() => {});
      }, KEEPALIVE_MS);
      return this.sessionId;
    }

    async attach(onMessage) {
      const r = await this.request({ janus: 'attach', plugin: 'janus.plugin.videoroom' },
        { stage: 'attach' });
      if (r.janus !== 'success') throw coreError('attach', r);
      const handleId = r.data.id;
      if (onMessage) this.handleListeners.set(handleId, onMessage);
      return handleId;
    }

    // A VideoRoom request; returns plugindata.data (and jsep), throws on any error.
    async message(handleId, body, jsep, what) {
      const msg = { janus: 'message', handle_id: handleId, body };
      if (jsep) msg.jsep = jsep;
      const r = await this.request(msg, { wantEvent: true, stage: what });
      if (r.janus === 'error') throw coreError(what, r);
      const data = r.plugindata && r.plugindata.data;
      if (!data) throw new JanusError(what, 0, `unexpected reply ${JSON.stringify(r).slice(0, 300)}`);
      if (data.error_code || data.error) {
        throw new JanusError(what, data.error_code || 0, data.error || 'videoroom error');
      }
      return { data, jsep: r.jsep };
    }

    trickle(handleId, candidate) {
      try {
        const c = candidate
          ? { candidate: candidate.candidate, sdpMid: candidate.sdpMid, sdpMLineIndex: candidate.sdpMLineIndex }
          : { completed: true };
        this.send({ janus: 'trickle', handle_id: handleId, candidate: c, transaction: rand() });
      } catch { /* closed */ }
    }

    async destroy() {
      this.leaving = true;
      clearInterval(this.keepalive);
      if (!this.closed && this.sessionId != null) {
        await this.request({ janus: 'destroy' }, { timeoutMs: 3000 }).catch(() => {});
      }
      try { this.ws && this.ws.close(); } catch { /* ignore */ }
      this.closed = true;
    }
  }

  function coreError(what, r) {
    const e = r.error || {};
    return new JanusError(what, e.code || 0, e.reason || `unexpected reply ${JSON.stringify(r).slice(0, 300)}`);
  }

  function markKicked(reason) {
    if (stage.kicked) return;
    stage.kicked = true;
    stage.kickedAt = Date.now();
    stage.kickReason = reason;
    record('kicked', { reason });
  }

  function notePublishers(list) {
    if (!Array.isArray(list)) return;
    for (const p of list) stage.feeds[p.id] = { display: p.display, at: Date.now() };
  }

  // Janus pushes for a publisher handle. `ref` is the publisher's record; only the
  // page's own publisher (stage.publisher) can be "kicked", probes just log.
  function publisherListener(ref) {
    const kick = (reason) => { if (ref === stage.publisher && !ref.leaving) markKicked(reason); };
    return (msg) => {
      const data = msg.plugindata && msg.plugindata.data;
      if (msg.janus === 'event' && data) {
        record('publisher-event', { data });
        if (data.publishers) notePublishers(data.publishers);
        const gone = data.unpublished ?? data.leaving ?? data.kicked;
        if (gone != null && gone !== 'ok' && stage.feeds[gone]) delete stage.feeds[gone];
        // Kicked: {"videoroom":"event","leaving":"ok","reason":"kicked"} (1.x), or a
        // notification naming our own feed, or the room destroyed.
        if (data.leaving === 'ok') kick(data.reason || 'leaving');
        else if (data.kicked != null && data.kicked === ref.feedId) kick('kicked');
        else if (data.unpublished === 'ok') kick('unpublished');
        else if (data.videoroom === 'destroyed') kick('room destroyed');
      } else if (msg.janus === 'webrtcup') {
        record('webrtcup', { role: 'publisher' });
        ref.webrtcup = true;
        if (ref.onUp) ref.onUp();
      } else if (msg.janus === 'hangup') {
        record('hangup', { role: 'publisher', reason: msg.reason });
        kick(`hangup: ${msg.reason || ''}`);
      } else if (msg.janus === 'detached') {
        record('detached', { role: 'publisher' });
        kick('detached');
      } else if (msg.janus === 'media' || msg.janus === 'slowlink') {
        record(msg.janus, { role: 'publisher', type: msg.type, receiving: msg.receiving });
      } else if (msg.janus === 'trickle' && ref.pc && msg.candidate) {
        addRemoteCandidate(ref.pc, msg.candidate);
      }
    };
  }

  function addRemoteCandidate(pc, c) {
    if (c.completed) { pc.addIceCandidate(null).catch(() => {}); return; }
    pc.addIceCandidate(c).catch((e) => record('remote-candidate-error', { error: String(e) }));
  }

  // Sends local candidates with trickle once the offer/answer request has gone out.
  function trickler(conn, handleId, pc) {
    const queue = [];
    let open = false;
    pc.onicecandidate = (ev) => {
      if (open) conn.trickle(handleId, ev.candidate);
      else queue.push(ev.candidate);
    };
    return () => {
      open = true;
      for (const c of queue.splice(0)) conn.trickle(handleId, c);
    };
  }

  function waitFor(cond, ms, what) {
    return withTimeout(new Promise((resolve) => {
      const tick = () => (cond() ? resolve() : setTimeout(tick, 50));
      tick();
    }), ms, what);
  }

  function iceUp(pc) {
    return ['connected', 'completed'].includes(pc.iceConnectionState);
  }

  async function joinPublisher(conn, { janusRoom, display, token, roomToken, pin }, ref) {
    await conn.createSession();
    const handleId = await conn.attach(publisherListener(ref));
    ref.handleId = handleId;
    const body = { request: 'join', ptype: 'publisher', room: janusRoom };
    if (display != null) body.display = display;
    const t = roomToken !== undefined ? roomToken : token;
    if (t) body.token = t;
    if (pin) body.pin = pin;
    const { data } = await conn.message(handleId, body, null, 'join');
    if (data.videoroom !== 'joined') throw new JanusError('join', 0, `unexpected ${data.videoroom}`);
    return { handleId, data };
  }

  async function startPublishing(conn, handleId, ref, { iceServers, timeoutMs = 20000, audio = true, video = true }) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio, video });
    ref.stream = stream;
    const pc = new RTCPeerConnection({ iceServers: iceServers || [] });
    ref.pc = pc;
    pc.oniceconnectionstatechange = () => record('ice', { role: 'publisher', state: pc.iceConnectionState });
    const flush = trickler(conn, handleId, pc);
    for (const track of stream.getTracks()) pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
    const offer = await pc.createOffer();
    await pc.setLocalDescription(offer);
    const up = new Promise((resolve) => { ref.onUp = resolve; if (ref.webrtcup) resolve(); });
    const configured = conn.message(handleId, { request: 'configure', audio, video },
      { type: offer.type, sdp: offer.sdp }, 'configure');
    flush();
    const { data, jsep } = await configured;
    if (!jsep) throw new JanusError('configure', 0, `no answer from Janus (${JSON.stringify(data)})`);
    await pc.setRemoteDescription(jsep);
    await withTimeout(Promise.all([up, waitFor(() => iceUp(pc), timeoutMs, 'ice')]), timeoutMs, 'webrtcup');
    return data;
  }

  async function publish(opts) {
    if (stage.publisher) throw new Error('already publishing; leave() first');
    const conn = new JanusConn(opts.janusUrl, opts.token, 'publisher');
    stage.connections.push(conn);
    const ref = { conn, feedId: null, leaving: false };
    stage.publisher = ref;
    stage.kicked = false; stage.kickedAt = null; stage.kickReason = null;
    try {
      await conn.open();
      const { handleId, data } = await joinPublisher(conn, opts, ref);
      ref.feedId = data.id;
      ref.privateId = data.private_id;
      notePublishers(data.publishers);
      await startPublishing(conn, handleId, ref, opts);
      record('published', { feedId: ref.feedId });
      return {
        feedId: ref.feedId, privateId: ref.privateId, sessionId: conn.sessionId, handleId,
        publishers: data.publishers || [],
      };
    } catch (e) {
      stage.lastError = { stage: e.stage, code: e.code, reason: e.reason || String(e) };
      ref.leaving = true;
      await teardownPublisher();
      throw e;
    }
  }

  async function findFeed(conn, handleId, janusRoom, exclude, timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { data } = await conn.message(handleId, { request: 'listparticipants', room: janusRoom }, null, 'listparticipants');
      const pub = (data.participants || []).find((p) => p.publisher && !exclude.includes(p.id));
      if (pub) return pub.id;
      if (Date.now() > deadline) throw new JanusError('listparticipants', 0, 'no publisher in the room');
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function subscribe(opts) {
    const { janusUrl, janusRoom, token, roomToken, pin, privateId, iceServers, timeoutMs = 20000 } = opts;
    const conn = new JanusConn(janusUrl, token, 'subscriber');
    stage.connections.push(conn);
    const sub = { conn, pc: null, feedId: opts.feedId ?? null, tracks: [], webrtcup: false };
    let handleId;
    try {
      await conn.open();
      await conn.createSession();
      handleId = await conn.attach((msg) => {
        if (msg.janus === 'webrtcup') { sub.webrtcup = true; record('webrtcup', { role: 'subscriber', feedId: sub.feedId }); }
        else if (msg.janus === 'hangup') { sub.hungUp = msg.reason || true; record('hangup', { role: 'subscriber', reason: msg.reason }); }
        else if (msg.janus === 'trickle' && sub.pc && msg.candidate) addRemoteCandidate(sub.pc, msg.candidate);
        else if (msg.janus === 'event') record('subscriber-event', { data: msg.plugindata && msg.plugindata.data });
      });
      sub.handleId = handleId;
      if (sub.feedId == null) {
        const own = stage.publisher && stage.publisher.feedId != null ? [stage.publisher.feedId] : [];
        sub.feedId = await findFeed(conn, handleId, janusRoom, own, timeoutMs);
      }
      const body = { request: 'join', ptype: 'subscriber', room: janusRoom, streams: [{ feed: sub.feedId }] };
      const t = roomToken !== undefined ? roomToken : token;
      if (t) body.token = t;
      if (pin) body.pin = pin;
      if (privateId != null) body.private_id = privateId;
      const { data, jsep } = await conn.message(handleId, body, null, 'join');
      if (data.videoroom !== 'attached' || !jsep) {
        throw new JanusError('join', 0, `unexpected subscriber reply ${JSON.stringify(data).slice(0, 200)}`);
      }
      const pc = new RTCPeerConnection({ iceServers: iceServers || [] });
      sub.pc = pc;
      stage.subscribers.push(sub);
      pc.oniceconnectionstatechange = () => record('ice', { role: 'subscriber', state: pc.iceConnectionState });
      const gotVideo = new Promise((resolve) => {
        pc.ontrack = (ev) => {
          sub.tracks.push(ev.track.kind);
          record('track', { kind: ev.track.kind, feedId: sub.feedId });
          if (ev.track.kind === 'video') resolve();
        };
      });
      const flush = trickler(conn, handleId, pc);
      await pc.setRemoteDescription(jsep);
      const answer = await pc.createAnswer();
      await pc.setLocalDescription(answer);
      const started = conn.message(handleId, { request: 'start' }, { type: answer.type, sdp: answer.sdp }, 'start');
      flush();
      await started;
      await withTimeout(Promise.all([gotVideo, waitFor(() => iceUp(pc), timeoutMs, 'ice')]), timeoutMs, 'subscribe');
      return { feedId: sub.feedId, sessionId: conn.sessionId, handleId };
    } catch (e) {
      stage.lastError = { stage: e.stage, code: e.code, reason: e.reason || String(e) };
      stage.subscribers = stage.subscribers.filter((s) => s !== sub);
      if (sub.pc) sub.pc.close();
      await conn.destroy();
      throw e;
    }
  }

  async function framesDecoded() {
    let total = 0;
    for (const s of stage.subscribers) {
      if (!s.pc) continue;
      const stats = await s.pc.getStats();
      stats.forEach((r) => {
        if (r.type === 'inbound-rtp' && (r.kind === 'video' || r.mediaType === 'video')) total += r.framesDecoded || 0;
      });
    }
    return total;
  }

  async function videoStats() {
    const out = [];
    for (const s of stage.subscribers) {
      if (!s.pc) continue;
      const stats = await s.pc.getStats();
      stats.forEach((r) => {
        if (r.type === 'inbound-rtp' && (r.kind === 'video' || r.mediaType === 'video')) {
          out.push({
            feedId: s.feedId, framesDecoded: r.framesDecoded, framesPerSecond: r.framesPerSecond,
            frameWidth: r.frameWidth, frameHeight: r.frameHeight, bytesReceived: r.bytesReceived,
            packetsLost: r.packetsLost, ice: s.pc.iceConnectionState,
          });
        }
      });
    }
    return out;
  }

  async function teardownPublisher() {
    const p = stage.publisher;
    if (!p) return;
    p.leaving = true;
    if (p.handleId != null && !p.conn.closed) {
      await p.conn.message(p.handleId, { request: 'leave' }, null, 'leave').catch(() => {});
    }
    if (p.pc) p.pc.close();
    if (p.stream) p.stream.getTracks().forEach((t) => t.stop());
    await p.conn.destroy();
    stage.publisher = null;
  }

  async function leave() {
    await teardownPublisher();
    for (const s of stage.subscribers.splice(0)) {
      if (s.pc) s.pc.close();
      await s.conn.destroy();
    }
    for (const c of stage.connections.splice(0)) await c.destroy();
  }

  // Like publish(), but reports Janus's refusal instead of throwing, and always cleans
  // up. With publish:false only the join is attempted (the VideoRoom's gate).
  async function tryJoinPublisher(opts) {
    const conn = new JanusConn(opts.janusUrl, opts.token, 'probe');
    const ref = { conn };
    let joined = null;
    try {
      await conn.open();
      const { handleId, data } = await joinPublisher(conn, opts, ref);
      joined = data.id;
      if (opts.publish) await startPublishing(conn, handleId, ref, opts);
      return { ok: true, feedId: data.id };
    } catch (e) {
      return { ok: false, joined: joined != null, stage: e.stage || 'unknown', code: e.code || 0, reason: e.reason || String(e) };
    } finally {
      if (ref.pc) ref.pc.close();
      if (ref.stream) ref.stream.getTracks().forEach((t) => t.stop());
      if (ref.handleId != null && !conn.closed) {
        await conn.message(ref.handleId, { request: 'leave' }, null, 'leave').catch(() => {});
      }
      await conn.destroy();
    }
  }

  async function trySubscribe(opts) {
    try {
      const r = await subscribe(opts);
      return { ok: true, ...r };
    } catch (e) {
      return { ok: false, stage: e.stage || 'unknown', code: e.code || 0, reason: e.reason || String(e) };
    }
  }

  window.amphiStage = Object.assign(stage, {
    publish, subscribe, framesDecoded, videoStats, leave, tryJoinPublisher, trySubscribe,
    publisherState: () => (stage.publisher && stage.publisher.pc
      ? { ice: stage.publisher.pc.iceConnectionState, connection: stage.publisher.pc.connectionState, feedId: stage.publisher.feedId }
      : null),
  });
})();
