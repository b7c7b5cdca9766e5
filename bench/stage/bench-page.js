// Page-side helpers for bench/stage/promotion.mjs, evaluated into pages that already
// have tests/e2e/lib/janus-page.js (window.amphiStage). Exposes window.amphiBench:
//   sse(url, token)            in-page SSE reader (fetch + Bearer), frames → handlers
//   armCold(o)                 on PROMOTE: fetch publish credentials, amphiStage.publish()
//   warmUp(o) / armWarm(o)     before PROMOTE: subscribe-only credentials, camera, Janus
//                              session + handle, offer; on PROMOTE: publish credentials,
//                              joinandconfigure with the prepared offer
//   result(timeoutMs)          the current run's timestamps {promoteAt, credsAt, upAt}
//   watch(o)                   moderator: subscribe to the first publisher that appears
//                              and poll framesDecoded every 10 ms → {firstFrameAt, trackAt}
//   warmTeardown()
(() => {
  if (window.amphiBench) return;
  const S = () => window.amphiStage;
  const rand = () => Math.random().toString(36).slice(2, 12);
  const B = { frames: [], run: null, warm: null, onPromote: null };

  B.sse = async (url, token) => {
    const res = await fetch(url, { headers: { accept: 'text/event-stream', authorization: `Bearer ${token}` } });
    if (res.status !== 200) throw new Error(`SSE ${res.status}`);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    (async () => {
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += dec.decode(value, { stream: true }).replace(/\r\n?/g, '\n');
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i); buf = buf.slice(i + 2);
          const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).replace(/^ /, '')).join('\n');
          if (!data) continue;
          let json = null; try { json = JSON.parse(data); } catch { continue; }
          const t = Date.now();
          B.frames.push({ t, type: json.type });
          if (json.type === 'PROMOTE' && B.onPromote && json.userId === B.onPromote.userId) {
            const h = B.onPromote; B.onPromote = null; h.fn(t);
          }
        }
      }
    })();
    return 200;
  };

  async function creds(o, mode) {
    const r = await fetch(`/api/rooms/${o.roomId}/stage/credentials${mode ? `?mode=${mode}` : ''}`,
      { method: 'POST', headers: { authorization: `Bearer ${o.token}`, 'content-type': 'application/json' }, body: '{}' });
    const body = await r.json();
    if (r.status !== 200) throw new Error(`credentials ${mode || 'publish'}: ${r.status} ${JSON.stringify(body)}`);
    return body;
  }

  function newRun() {
    const run = { promoteAt: null, credsAt: null, upAt: null, error: null };
    run.done = new Promise((resolve) => { run.finish = resolve; });
    B.run = run;
    return run;
  }

  B.armCold = (o) => {
    const run = newRun();
    B.onPromote = { userId: o.userId, fn: async (t) => {
      run.promoteAt = t;
      try {
        const c = await creds(o);
        run.credsAt = Date.now();
        await S().publish(c);          // getUserMedia, connect, join, configure; resolves on webrtcup + ICE
        run.upAt = Date.now();
      } catch (e) { run.error = String(e && (e.message || e)); }
      run.finish();
    } };
    return true;
  };

  // --- warm publisher: raw Janus over WebSocket, prepared before the promote ---------
  class Conn {
    constructor(url) { this.url = url; this.pending = new Map(); this.onEvent = () => {}; }
    open() {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(this.url, 'janus-protocol');
        this.ws = ws;
        ws.onopen = resolve;
        ws.onerror = () => reject(new Error('ws error'));
        ws.onmessage = (ev) => {
          const m = JSON.parse(ev.data);
          const p = m.transaction && this.pending.get(m.transaction);
          if (p) {
            if (m.janus === 'ack' && p.wantEvent) return;
            this.pending.delete(m.transaction); p(m); return;
          }
          this.onEvent(m);
        };
      });
    }
    req(body, wantEvent = false) {
      const transaction = rand();
      const msg = { ...body, transaction, token: this.token };
      if (this.sessionId != null && body.janus !== 'create') msg.session_id = this.sessionId;
      return new Promise((resolve, reject) => {
        const f = (m) => resolve(m); f.wantEvent = wantEvent;
        this.pending.set(transaction, f);
        setTimeout(() => { if (this.pending.delete(transaction)) reject(new Error(`timeout ${body.janus}`)); }, 15000);
        this.ws.send(JSON.stringify(msg));
      });
    }
    trickle(handleId, c) {
      const candidate = c ? { candidate: c.candidate, sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex } : { completed: true };
      this.ws.send(JSON.stringify({ janus: 'trickle', handle_id: handleId, candidate, transaction: rand(), token: this.token, session_id: this.sessionId }));
    }
  }

  B.warmUp = async (o) => {
    const t0 = Date.now();
    const sc = await creds(o, 'subscribe');
    const w = { conn: new Conn(sc.janusUrl), sub: sc, queue: [], up: false };
    B.warm = w;
    w.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
    const conn = w.conn;
    conn.token = sc.token;
    await conn.open();
    const s = await conn.req({ janus: 'create' });
    if (s.janus !== 'success') throw new Error(`create: ${JSON.stringify(s)}`);
    conn.sessionId = s.data.id;
    w.keepalive = setInterval(() => conn.req({ janus: 'keepalive' }).catch(() => {}), 25000);
    const a = await conn.req({ janus: 'attach', plugin: 'janus.plugin.videoroom' });
    if (a.janus !== 'success') throw new Error(`attach: ${JSON.stringify(a)}`);
    w.handleId = a.data.id;
    conn.onEvent = (m) => {
      if (m.janus === 'webrtcup' && m.sender === w.handleId) { w.up = true; if (w.onUp) w.onUp(); }
      else if (m.janus === 'trickle' && m.candidate && w.pc) {
        (m.candidate.completed ? w.pc.addIceCandidate(null) : w.pc.addIceCandidate(m.candidate)).catch(() => {});
      }
    };
    const pc = new RTCPeerConnection({ iceServers: sc.iceServers || [] });
    w.pc = pc;
    pc.onicecandidate = (ev) => { if (w.flushed) conn.trickle(w.handleId, ev.candidate); else w.queue.push(ev.candidate); };
    for (const t of w.stream.getTracks()) pc.addTransceiver(t, { direction: 'sendonly', streams: [w.stream] });
    w.offer = await pc.createOffer();
    await pc.setLocalDescription(w.offer);
    return { warmMs: Date.now() - t0, sessionId: conn.sessionId, handleId: w.handleId };
  };

  B.armWarm = (o) => {
    const run = newRun();
    B.onPromote = { userId: o.userId, fn: async (t) => {
      run.promoteAt = t;
      const w = B.warm;
      try {
        const c = await creds(o);
        run.credsAt = Date.now();
        w.conn.token = c.token;
        const up = new Promise((resolve) => { w.onUp = resolve; if (w.up) resolve(); });
        const body = { request: 'joinandconfigure', ptype: 'publisher', room: c.janusRoom, token: c.token, audio: true, video: true };
        if (c.display != null) body.display = c.display;
        const sent = w.conn.req({ janus: 'message', handle_id: w.handleId, body, jsep: { type: 'offer', sdp: w.offer.sdp } }, true);
        w.flushed = true;
        for (const cand of w.queue.splice(0)) w.conn.trickle(w.handleId, cand);
        const r = await sent;
        const data = r.plugindata && r.plugindata.data;
        if (!r.jsep) throw new Error(`joinandconfigure: ${JSON.stringify(r).slice(0, 300)}`);
        w.feedId = data && data.id;
        await w.pc.setRemoteDescription(r.jsep);
        await Promise.race([up, new Promise((_, rej) => setTimeout(() => rej(new Error('webrtcup timeout')), 20000))]);
        run.upAt = Date.now();
      } catch (e) { run.error = String(e && (e.message || e)); }
      run.finish();
    } };
    return true;
  };

  B.warmTeardown = async () => {
    const w = B.warm; B.warm = null;
    if (!w) return;
    clearInterval(w.keepalive);
    try { if (w.pc) w.pc.close(); } catch { /* */ }
    if (w.stream) w.stream.getTracks().forEach((t) => t.stop());
    try { await Promise.race([w.conn.req({ janus: 'destroy' }), new Promise((r) => setTimeout(r, 2000))]); } catch { /* */ }
    try { w.conn.ws.close(); } catch { /* */ }
  };

  B.result = async (timeoutMs) => {
    const run = B.run;
    await Promise.race([run.done, new Promise((r) => setTimeout(r, timeoutMs))]);
    const { promoteAt, credsAt, upAt, error } = run;
    return { promoteAt, credsAt, upAt, error: error || (upAt ? null : 'timeout') };
  };

  // Moderator: subscribe to whichever publisher shows up, note the first decoded frame.
  B.watch = async (o) => {
    const started = Date.now();
    let subErr = null;
    const sub = S().subscribe({ ...o.creds, timeoutMs: o.timeoutMs }).catch((e) => { subErr = String(e && (e.reason || e.message || e)); });
    for (;;) {
      if (subErr) return { error: subErr };
      if (Date.now() - started > o.timeoutMs) return { error: 'no frame' };
      if ((await S().framesDecoded()) > 0) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const firstFrameAt = Date.now();
    await sub;
    // ontrack: the moderator found the feed (listparticipants, polled every 200 ms by
    // janus-page.js) and Janus answered its subscriber join
    // (janus-page.js records it as {kind: <track kind>, feedId}: the detail's kind wins)
    const tr = S().events.filter((e) => e.kind === 'video' && e.feedId != null && e.t >= started)[0];
    return { firstFrameAt, trackAt: tr ? tr.t : null };
  };

  window.amphiBench = B;
})();
