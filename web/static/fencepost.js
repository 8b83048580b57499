// fencepost's pages: the operation timeline, the charts and the check form,
// drawn on canvases with no framework. Script errors are collected in
// window.__errors so the browser test can assert there were none.
window.__errors = [];
window.addEventListener('error', (e) => window.__errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.__errors.push(String(e.reason)));
(() => {
  const original = console.error;
  console.error = (...args) => { window.__errors.push(args.join(' ')); original.apply(console, args); };
})();

const fencepost = (() => {
  // Outcome codes as the server sends them: 3 is a `fail` refused because
  // another client held the lock (contention), told apart from errors.
  const OUTCOME = ['ok', 'fail', 'info', 'busy'];
  const OUTCOME_WORDS = { ok: 'ok', fail: 'fail (an error, no effect)', info: 'info (outcome unknown)', busy: 'fail: busy (another client held it)' };
  // Every checker answers valid, invalid or unknown; for a linearizability
  // check, people know the answers by these words (Knossos, Porcupine).
  const VERDICTS = ['valid', 'invalid', 'unknown'];
  const LINEARIZABILITY = { valid: 'linearizable', invalid: 'not linearizable', unknown: 'undecided' };
  const COLOR = { ok: '#2e7d32', fail: '#757575', busy: '#c5b8b2', info: '#ef6c00', hold: 'rgba(33,150,243,0.30)',
    fault: 'rgba(229,57,53,0.10)', faultEdge: 'rgba(229,57,53,0.55)', anomaly: '#d50000', axis: '#555', unplaced: '#cfd8dc' };
  // A colour per leader in the election rows (white text on each).
  const LEADER_COLORS = ['#3949ab', '#00897b', '#8e24aa', '#e65100', '#6d4c41', '#1e88e5', '#d81b60', '#558b2f'];
  const AXIS = 36;    // px under the lanes for the time axis: ticks and title
  const GUTTER = 44;  // px left of the lanes for process numbers, at least

  // A canvas sized to its box at the device's pixel ratio. Every text drawn
  // on it is kept in `canvas.__texts` (with its box in CSS pixels): canvas
  // text is invisible to the DOM, and the browser test checks legends, axis
  // titles and ticks are drawn and none runs off the edge.
  function prepare(canvas, height) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth || 800;
    canvas.style.height = height + 'px';
    canvas.width = Math.round(width * ratio);
    canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext('2d');
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '11px sans-serif';
    ctx.textAlign = 'left';
    canvas.__texts = [];
    if (!ctx.__recording) {
      // Wrapped once per context: a redraw must not stack wrappers.
      const fill = CanvasRenderingContext2D.prototype.fillText;
      ctx.fillText = function (text, x, y, maxWidth) {
        const w = Math.min(this.measureText(String(text)).width, maxWidth ?? Infinity);
        const left = this.textAlign === 'right' || this.textAlign === 'end' ? x - w : this.textAlign === 'center' ? x - w / 2 : x;
        this.canvas.__texts.push({ text: String(text), x: left, y, w });
        return maxWidth === undefined ? fill.call(this, text, x, y) : fill.call(this, text, x, y, maxWidth);
      };
      ctx.__recording = true;
    }
    return { ctx, width, height };
  }

  function seconds(ns) { return (ns / 1e9).toFixed(3) + ' s'; }

  // The final reads run as processes 1000000 and up, after the workload.
  // An operation's bar height, as a share of the lane's bar, by what it
  // does: taking a lock or a leadership full, giving it up half, the rest
  // (reads, writes, keep-alives) a third. The page's legend says so.
  function opShape(f) {
    if (f === 'acquire' || f === 'campaign') return 1;
    if (f === 'release' || f === 'resign') return 0.5;
    return 0.33;
  }

  function laneLabel(p) {
    // Background tasks (etcd's lease keep-alives), one each, from 3000000.
    if (p >= 3e6) return 'keep-alive ' + (p - 3e6 + 1);
    // The orphan revoker (etcd leases a retired client left) from 2000000.
    if (p >= 2e6) return p === 2e6 ? 'revoker' : 'revoker ' + (p - 2e6 + 1);
    return p >= 1e6 ? (p === 1e6 ? 'final read' : 'final read ' + (p - 1e6 + 1)) : 'p' + p;
  }

  // `t` ns as a tick label, in the unit the whole span reads best in, with
  // as many decimals as the tick step needs.
  function duration(t, step, span) {
    const [div, unit] = [[1e9, 's'], [1e6, 'ms'], [1e3, 'µs'], [1, 'ns']].find(([d]) => span >= d) || [1, 'ns'];
    const decimals = Math.max(0, Math.ceil(-Math.log10(step / div) - 1e-9));
    return (t / div).toFixed(decimals) + ' ' + unit;
  }

  // A time axis from t0 to t1 at height y. Ticks read relative to `origin`
  // (0: the run's start); `untimed` histories count positions, not ns. Labels
  // are centred on their tick and kept inside the canvas.
  function axis(ctx, x0, x1, y, t0, t1, opts = {}) {
    const origin = opts.origin || 0;
    const right = ctx.canvas.width / (window.devicePixelRatio || 1);
    ctx.strokeStyle = COLOR.axis; ctx.fillStyle = COLOR.axis; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(x0, y); ctx.lineTo(x1, y); ctx.stroke();
    const span = Math.max(t1 - t0, 1);
    // One unit for every tick, chosen by the largest value shown.
    const scale = Math.max(span, Math.abs(t0 - origin), Math.abs(t1 - origin));
    const raw = span / Math.max(2, Math.floor((x1 - x0) / 90));
    const step = Math.pow(10, Math.floor(Math.log10(raw)));
    const nice = Math.max([1, 2, 5, 10].map((m) => m * step).find((s) => s >= raw) || raw, opts.untimed ? 1 : 0);
    for (let r = Math.ceil((t0 - origin) / nice) * nice; origin + r <= t1; r += nice) {
      const x = x0 + (origin + r - t0) / span * (x1 - x0);
      ctx.beginPath(); ctx.moveTo(x, y); ctx.lineTo(x, y + 4); ctx.stroke();
      const label = opts.untimed ? String(Math.round(r)) : duration(r, nice, scale);
      const w = ctx.measureText(label).width;
      ctx.fillText(label, Math.min(Math.max(x - w / 2, 1), right - w - 2), y + 14);
    }
    const title = opts.title || (opts.untimed ? 'position in the history (it has no timestamps)' : origin ? 'time since the first operation shown' : 'time since the start of the run');
    const w = ctx.measureText(title).width;
    ctx.fillText(title, Math.min(Math.max((x0 + x1) / 2 - w / 2, 1), right - w - 2), y + 28);
  }

  // Colour swatches with their names, right-aligned so they end at `right`.
  function legend(ctx, items, right, y) {
    let x = right;
    for (const [color, name] of [...items].reverse()) {
      x -= ctx.measureText(name).width;
      ctx.fillStyle = COLOR.axis; ctx.fillText(name, x, y);
      x -= 14;
      ctx.fillStyle = color; ctx.fillRect(x, y - 9, 10, 10);
      if (color === COLOR.fault) { ctx.fillStyle = COLOR.faultEdge; ctx.fillRect(x, y - 9, 1, 10); }
      x -= 12;
    }
  }

  const OUTCOME_LEGEND = () => [[COLOR.ok, 'ok'], [COLOR.busy, 'busy'], [COLOR.fail, 'fail'], [COLOR.info, 'info'], [COLOR.fault, 'fault']];

  // Round tick values for a count from 0 to at least `max`: whole steps of
  // 1, 2 or 5 × 10^k, about `count` of them.
  function niceTicks(max, count) {
    const raw = Math.max(max, 1) / Math.max(count, 1);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = Math.max(1, [1, 2, 5, 10].map((m) => m * p).find((v) => v >= raw) || raw);
    const ticks = [];
    for (let v = 0; v < max + step; v += step) ticks.push(Number(v.toPrecision(12)));
    return { ticks, top: ticks[ticks.length - 1], step };
  }

  // The order operation kinds are drawn in, the lock's own first.
  const KIND_ORDER = ['acquire', 'campaign', 'release', 'resign', 'renew', 'keep-alive', 'observe', 'read', 'write'];
  const kindRank = (f) => { const i = KIND_ORDER.indexOf(f); return i < 0 ? KIND_ORDER.length : i; };

  // A latency as a short label: 1 µs, 10 ms, 1 s.
  function latencyLabel(ns) {
    const [div, unit] = ns >= 1e9 ? [1e9, 's'] : ns >= 1e6 ? [1e6, 'ms'] : ns >= 1e3 ? [1e3, 'µs'] : [1, 'ns'];
    return Number((ns / div).toPrecision(3)) + ' ' + unit;
  }

  // Fault windows shaded across the plot, named when the name fits before
  // `labelRight` (a label cut by the plot's edge reads as something else).
  function shadeFaults(ctx, faults, xOf, top, bottom, labelRight) {
    for (const f of faults || []) {
      const a = xOf(f.start), b = xOf(f.end);
      ctx.fillStyle = COLOR.fault; ctx.fillRect(a, top, Math.max(b - a, 1), bottom - top);
      ctx.fillStyle = COLOR.faultEdge; ctx.fillRect(a, top, 1, bottom - top);
      if (labelRight && a + 3 + ctx.measureText(f.name).width <= labelRight) ctx.fillText(f.name, a + 3, top + 10);
    }
  }

  // The operation timeline: a lane per process; zoom with the wheel, pan by
  // dragging, double-click to reset. `source(window)` answers a view of a
  // window at the plot's width: the server's for a stored run, the page's
  // own (`localView`) for a live one. A view holds the operations themselves
  // when there are at most two per pixel, otherwise per lane and pixel one
  // digit: the most telling outcome there (1 fail, 2 ok, 3 info) plus 4
  // where a lock was held. While a new view is on its way the last one is
  // drawn stretched to the new window, so wheel and drag answer at once.
  function timeline(canvas, status, first, source, details) {
    let base = first, shown = first;
    const view = { t0: 0, t1: Math.max(first.end, 1) };
    let gutter = GUTTER, asked = 0, drawn = 0, inflight = null, again = false, layout = { laneH: 14, top: 14, lanes: 0 };
    let focused = null;

    function draw() {
      // Laid out on every draw: a live run gains processes as it goes.
      const lanes = base.lanes.length;
      // Tall enough to read at the default zoom; many lanes share 600 px.
      const laneH = lanes <= 30 ? 22 : lanes <= 60 ? 14 : Math.max(3, Math.floor(600 / lanes));
      const height = Math.max(80, lanes * laneH + AXIS + 14);
      const marked = new Set();
      for (const a of base.anomalies || []) for (const p of a.processes || []) marked.add(p);
      // Elections: a row per election above the lanes, who led it as its
      // observers saw it.
      const leaders = base.leaders || [];
      const elections = [...new Set(leaders.map((l) => l.key))].sort();
      const leaderRows = elections.length ? elections.length * laneH + 6 : 0;
      const { ctx, width } = prepare(canvas, height + leaderRows);
      const labels = laneH >= 9 ? base.lanes.map(laneLabel) : [];
      const electionLabels = elections.map((k) => (k ? k + ' ' : '') + 'leader');
      gutter = Math.max(GUTTER, ...labels.concat(electionLabels).map((l) => Math.ceil(ctx.measureText(l).width) + 10));
      const plot = width - gutter - 4, top = 14 + leaderRows, bottom = top + lanes * laneH;
      layout = { laneH, top, lanes };
      const span = Math.max(view.t1 - view.t0, 1);
      const xOf = (t) => gutter + (t - view.t0) / span * plot;
      const barH = Math.max(laneH * 0.5, 2), holdY = laneH * 0.55, holdH = laneH * 0.4;
      ctx.save(); ctx.beginPath(); ctx.rect(gutter, 0, plot, height + leaderRows); ctx.clip();
      shadeFaults(ctx, base.faults, xOf, 0, bottom, gutter + plot);
      if (elections.length) {
        const ids = [...new Set(leaders.map((l) => l.leader).filter((l) => l != null))].sort();
        for (const l of leaders) {
          if (l.end < view.t0 || l.start > view.t1) continue;
          const y = 14 + elections.indexOf(l.key) * laneH + 1, x = xOf(l.start), w = Math.max(xOf(l.end) - x, 2);
          ctx.fillStyle = l.leader == null ? '#e0e0e0' : LEADER_COLORS[ids.indexOf(l.leader) % LEADER_COLORS.length];
          ctx.fillRect(x, y, w, laneH - 2);
          const text = l.leader == null ? 'no leader' : l.leader + (l.term == null ? '' : ' · term ' + l.term);
          if (laneH >= 12 && ctx.measureText(text).width + 6 <= w) {
            ctx.fillStyle = l.leader == null ? COLOR.axis : '#fff';
            ctx.fillText(text, Math.max(x, gutter) + 3, y + laneH * 0.65);
          }
        }
      }
      if (shown.ops) {
        const h = shown.holds;
        ctx.fillStyle = COLOR.hold;
        for (let i = 0; i < h.lane.length; i++) {
          ctx.fillRect(xOf(h.start[i]), top + h.lane[i] * laneH + holdY, Math.max(xOf(h.end[i]) - xOf(h.start[i]), 1), holdH);
        }
        const o = shown.ops;
        for (let i = 0; i < o.lane.length; i++) {
          const e = o.end[i] < 0 ? base.end : o.end[i];
          const h = Math.max(barH * opShape(base.fs[o.f[i]]), 2);
          ctx.fillStyle = COLOR[OUTCOME[o.outcome[i]]];
          ctx.fillRect(xOf(o.start[i]), top + o.lane[i] * laneH + (barH - h), Math.max(xOf(e) - xOf(o.start[i]), 1), h);
        }
      } else if (shown.bins) {
        // Painted pixel by pixel once per view, then stretched to where the
        // view's window lies now: a rectangle per run of equal pixels costs
        // ten times as much when bars and gaps alternate.
        const image = binImage(shown, laneH, barH, holdY, holdH);
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(image, xOf(shown.t0), top, xOf(shown.t1) - xOf(shown.t0), image.height);
      }
      const laneOf = new Map(base.lanes.map((p, i) => [p, i]));
      if (focused) {
        // The anomaly asked for from the list: its processes' lanes over its span.
        ctx.fillStyle = 'rgba(213,0,0,0.18)';
        const x = xOf(focused.start), w = Math.max(xOf(focused.end) - x, 4);
        for (const p of focused.processes || []) if (laneOf.has(p)) ctx.fillRect(x, top + laneOf.get(p) * laneH - 2, w, laneH + 2);
      }
      ctx.strokeStyle = COLOR.anomaly; ctx.lineWidth = 2;
      for (const a of base.anomalies || []) {
        const x = xOf(a.start), w = Math.max(xOf(a.end) - x, 3);
        for (const p of a.processes || []) if (laneOf.has(p)) ctx.strokeRect(x, top + laneOf.get(p) * laneH - 1, w, laneH);
        ctx.fillStyle = COLOR.anomaly;
        ctx.beginPath(); ctx.moveTo(x, 0); ctx.lineTo(x + 5, 8); ctx.lineTo(x - 5, 8); ctx.fill();
      }
      ctx.restore();
      labels.forEach((l, i) => {
        ctx.fillStyle = marked.has(base.lanes[i]) ? COLOR.anomaly : COLOR.axis;
        ctx.fillText(l, 4, top + i * laneH + laneH * 0.7);
      });
      ctx.fillStyle = COLOR.axis;
      electionLabels.forEach((l, i) => ctx.fillText(l, 4, 14 + i * laneH + laneH * 0.7));
      canvas.dataset.elections = String(elections.length);
      axis(ctx, gutter, gutter + plot, bottom + 4, view.t0, view.t1);
      canvas.dataset.mode = shown.bins ? 'bins' : 'ops';
      const n = (k, one, many) => `${k} ${k === 1 ? one : many}`;
      if (status) {
        status.textContent = `${n(base.total, 'operation', 'operations')}, ${n(lanes, 'process', 'processes')}, ` +
          `${n((base.faults || []).length, 'fault', 'faults')}, ${n((base.anomalies || []).length, 'anomaly', 'anomalies')} marked; ` +
          `showing ${seconds(view.t0)} – ${seconds(view.t1)}: ${n(shown.visible, 'operation', 'operations')}` +
          (shown.bins ? ', drawn per pixel' : '');
      }
    }

    // Asks for the view of the window shown now; resolves once it is drawn.
    // An answer older than one already drawn is dropped.
    function refresh() {
      const mine = ++asked, t0 = performance.now();
      const plot = Math.max(1, Math.round((canvas.clientWidth || 800) - gutter - 4));
      const from = Math.max(0, Math.floor(view.t0));
      return source({ t0: from, t1: Math.max(Math.ceil(view.t1), from + 1), px: plot }).then((v) => {
        if (mine < drawn) return;
        drawn = mine; shown = v; draw();
        canvas.dataset.viewMs = String(Math.round(performance.now() - t0));
        canvas.dataset.views = String(mine);
      });
    }
    // At most one request in flight while the wheel turns or a drag moves;
    // the last window asked for is always fetched.
    function request() {
      if (inflight) { again = true; return; }
      inflight = refresh().catch((e) => { if (status) status.textContent = 'timeline unavailable: ' + e.message; })
        .finally(() => { inflight = null; if (again) { again = false; request(); } });
    }

    const timeAt = (clientX) => {
      const r = canvas.getBoundingClientRect();
      return view.t0 + (clientX - r.left - gutter) / (r.width - gutter - 4) * (view.t1 - view.t0);
    };
    // Zooms by `k` around the time `t` (<1 in, >1 out) and redraws at once;
    // resolves when the new window's own view is drawn.
    function zoom(k, t) {
      view.t0 = t - (t - view.t0) * k; view.t1 = t + (view.t1 - t) * k;
      if (view.t1 - view.t0 < 1000) view.t1 = view.t0 + 1000;
      draw();
      return refresh();
    }
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      const t = timeAt(e.clientX), k = e.deltaY < 0 ? 0.8 : 1.25;
      view.t0 = t - (t - view.t0) * k; view.t1 = t + (view.t1 - t) * k;
      if (view.t1 - view.t0 < 1000) view.t1 = view.t0 + 1000;
      draw(); request();
    }, { passive: false });
    let drag = null, moved = false;
    canvas.addEventListener('mousedown', (e) => { drag = { x: e.clientX, t0: view.t0, t1: view.t1 }; moved = false; });
    window.addEventListener('mouseup', () => { drag = null; });
    // Hovering an operation shows what it was; only where operations are
    // drawn one by one (zoomed in), not over a binned view.
    const tip = document.createElement('div');
    tip.className = 'op-tip'; tip.id = 'op-tip'; tip.hidden = true;
    document.body.appendChild(tip);
    const opAt = (clientX, clientY) => {
      const o = shown.ops;
      if (!o) return null;
      const r = canvas.getBoundingClientRect();
      const lane = Math.floor((clientY - r.top - layout.top) / layout.laneH);
      if (lane < 0 || lane >= layout.lanes) return null;
      const t = timeAt(clientX), slack = 3 / (r.width - gutter - 4) * (view.t1 - view.t0);
      let best = -1;
      for (let i = 0; i < o.lane.length; i++) {
        const end = o.end[i] < 0 ? base.end : o.end[i];
        if (o.lane[i] === lane && o.start[i] - slack <= t && t <= end + slack) { best = i; break; }
      }
      if (best < 0) return null;
      const end = o.end[best];
      return {
        process: base.lanes[lane], f: base.fs[o.f[best]] || '?', key: base.keys[o.key[best]] || '',
        outcome: end < 0 ? 'never completed' : OUTCOME_WORDS[OUTCOME[o.outcome[best]]] || '?', start: o.start[best], end,
      };
    };
    canvas.addEventListener('mousemove', (e) => {
      if (!drag) {
        const op = opAt(e.clientX, e.clientY);
        if (!op) { tip.hidden = true; return; }
        tip.textContent = `${laneLabel(op.process)} · ${op.f}${op.key ? ' ' + op.key : ''} · ${op.outcome} · invoked ` +
          seconds(op.start) + (op.end < 0 ? '' : `, completed ${seconds(op.end)} (${((op.end - op.start) / 1e6).toFixed(1)} ms)`);
        tip.style.left = (e.pageX + 12) + 'px'; tip.style.top = (e.pageY + 12) + 'px';
        tip.hidden = false;
        return;
      }
      tip.hidden = true;
      if (Math.abs(e.clientX - drag.x) > 2) moved = true;
      const r = canvas.getBoundingClientRect();
      const dt = (e.clientX - drag.x) / (r.width - gutter - 4) * (drag.t1 - drag.t0);
      view.t0 = drag.t0 - dt; view.t1 = drag.t1 - dt; draw(); request();
    });
    // A click on an operation pins its details under the timeline: what the
    // tip says, and where the server has the history, its values, node and
    // error as recorded.
    const panel = document.createElement('div');
    panel.className = 'op-detail'; panel.id = 'op-detail'; panel.hidden = true;
    (status || canvas).insertAdjacentElement('afterend', panel);
    canvas.addEventListener('click', (e) => {
      if (moved) return;
      const op = opAt(e.clientX, e.clientY);
      if (!op) { panel.hidden = true; return; }
      showDetail(panel, op, details);
    });
    canvas.addEventListener('dblclick', () => { view.t0 = 0; view.t1 = Math.max(base.end, 1); draw(); request(); });
    window.addEventListener('resize', () => { draw(); request(); });
    draw();
    canvas.addEventListener('mouseleave', () => { tip.hidden = true; });
    return {
      draw, zoom, refresh, view, shown: () => shown, base: () => base, opAt,
      // Zooms to an anomaly (a mark of `base.anomalies`), its lanes filled.
      focus(mark) {
        focused = mark;
        const pad = Math.max((mark.end - mark.start) * 0.25, 5e6);
        view.t0 = Math.max(0, mark.start - pad); view.t1 = mark.end + pad;
        canvas.dataset.focus = `${mark.checker}:${mark.start}`;
        draw();
        return refresh();
      },
      // Where on the page the `i`th operation shown is drawn (its bar's middle).
      pointOf(i) {
        const o = shown.ops, r = canvas.getBoundingClientRect(), plot = r.width - gutter - 4;
        const end = o.end[i] < 0 ? base.end : o.end[i], mid = (Math.max(o.start[i], view.t0) + Math.min(end, view.t1)) / 2;
        return { x: r.left + gutter + (mid - view.t0) / (view.t1 - view.t0) * plot, y: r.top + layout.top + o.lane[i] * layout.laneH + 2 };
      },
      // A live run's new base (more operations, lanes, faults): the window
      // follows the end unless the reader has moved it.
      grow(b) { const following = view.t1 >= base.end; base = b; if (following) view.t1 = Math.max(b.end, 1); return refresh(); },
    };
  }

  // The details of a clicked operation in `panel`; `details(op)` (absent
  // for a live run or a report file) fetches its recorded events.
  function showDetail(panel, op, details) {
    const line = (label, text) => {
      const p = document.createElement('div');
      const b = document.createElement('b'); b.textContent = label + ' ';
      p.append(b, text); return p;
    };
    const json = (v) => v === null || v === undefined ? 'null' : JSON.stringify(v);
    panel.replaceChildren(
      line('operation', `${laneLabel(op.process)} · ${op.f}${op.key ? ' ' + op.key : ''} · ${op.outcome}`),
      line('invoked', seconds(op.start)),
      line('completed', op.end < 0 ? 'never' : `${seconds(op.end)} (${((op.end - op.start) / 1e6).toFixed(3)} ms later)`));
    panel.hidden = false;
    panel.dataset.loaded = '';
    if (!details) {
      panel.append(line('values', 'not in this view: the run\'s history.jsonl has them'));
      panel.dataset.loaded = '1';
      return;
    }
    details(op).then((d) => {
      panel.append(line('invoke value', json(d.invoke.value)));
      if (d.completion) {
        panel.append(line('completion', `${d.completion.type} ${json(d.completion.value)}`));
        if (d.completion.node) panel.append(line('node', d.completion.node));
        if (d.completion.error) panel.append(line('error', d.completion.error));
      }
      panel.dataset.loaded = '1';
    }).catch((e) => { panel.append(line('details unavailable:', e.message)); panel.dataset.loaded = '1'; });
  }

  // A binned view as an image `px` wide, a lane every `laneH` rows: the
  // outcome's bar on top, the hold band under it (see timeline()).
  function binImage(view, laneH, barH, holdY, holdH) {
    const key = `${laneH}`;
    if (view.__image && view.__image.key === key) return view.__image.canvas;
    const colors = [null, 'fail', 'ok', 'info'].map((c) => c && packed(COLOR[c]));
    const hold = packed(COLOR.hold);
    const width = view.px, height = Math.max(1, view.bins.length * laneH);
    const canvas = document.createElement('canvas');
    canvas.width = width; canvas.height = height;
    const ctx = canvas.getContext('2d'), image = ctx.createImageData(width, height);
    const pixels = new Uint32Array(image.data.buffer);
    const bar = Math.round(barH), h0 = Math.round(holdY), h1 = Math.min(laneH, Math.round(holdY + holdH));
    view.bins.forEach((digits, lane) => {
      const row0 = lane * laneH * width;
      for (let x = 0; x < digits.length; x++) {
        const code = digits.charCodeAt(x) - 48;
        if (!code) continue;
        if (code & 3) for (let r = 0; r < bar; r++) pixels[row0 + r * width + x] = colors[code & 3];
        if (code & 4) for (let r = h0; r < h1; r++) pixels[row0 + r * width + x] = hold;
      }
    });
    ctx.putImageData(image, 0, 0);
    view.__image = { key, canvas };
    return canvas;
  }

  // A CSS colour as one RGBA pixel, as ImageData holds it.
  const packedColors = new Map();
  function packed(color) {
    if (!packedColors.has(color)) {
      const c = document.createElement('canvas').getContext('2d');
      c.fillStyle = color; c.fillRect(0, 0, 1, 1);
      packedColors.set(color, new Uint32Array(c.getImageData(0, 0, 1, 1).data.buffer)[0]);
    }
    return packedColors.get(color);
  }

  // A live run's operations, kept here as they stream in: the same views
  // the server gives of a stored run, built from what has arrived.
  function liveStore() {
    const procs = [], start = [], end = [], outcome = [], f = [], key = [];
    const holdProc = [], holdStart = [], holdEnd = [];
    const fs = [], keys = [], fIds = new Map(), keyIds = new Map();
    const intern = (names, ids, name) => { if (!ids.has(name)) { ids.set(name, names.length); names.push(name); } return ids.get(name); };
    let faults = [], last = 0, lanes = [], laneOf = new Map();
    return {
      add(delta) {
        for (const [p, s, e, out, fname, k] of delta.ops) {
          procs.push(p); start.push(s); end.push(e); outcome.push(out);
          f.push(intern(fs, fIds, fname)); key.push(intern(keys, keyIds, k));
          if (!laneOf.has(p)) laneOf.set(p, -1);
        }
        for (const [p, s, e] of delta.holds || []) { holdProc.push(p); holdStart.push(s); holdEnd.push(e); }
        if (delta.faults) faults = delta.faults;
        last = Math.max(last, delta.end);
        if ([...laneOf.values()].includes(-1)) {
          lanes = [...laneOf.keys()].sort((a, b) => a - b);
          laneOf = new Map(lanes.map((p, i) => [p, i]));
        }
      },
      base() { return { lanes, fs, keys, faults, anomalies: [], end: last, total: start.length, visible: 0 }; },
      view(w) {
        const seen = [];
        for (let i = 0; i < start.length; i++) if (end[i] >= w.t0 && start[i] <= w.t1) seen.push(i);
        const v = { t0: w.t0, t1: w.t1, px: w.px, visible: seen.length };
        if (seen.length <= Math.min(2 * w.px, 20000)) {
          v.ops = { lane: seen.map((i) => laneOf.get(procs[i])), start: seen.map((i) => start[i]), end: seen.map((i) => end[i]),
            outcome: seen.map((i) => outcome[i]), f: seen.map((i) => f[i]), key: seen.map((i) => key[i]) };
          v.holds = { lane: [], start: [], end: [] };
          for (let i = 0; i < holdStart.length; i++) {
            if (holdEnd[i] < w.t0 || holdStart[i] > w.t1 || !laneOf.has(holdProc[i])) continue;
            v.holds.lane.push(laneOf.get(holdProc[i])); v.holds.start.push(holdStart[i]); v.holds.end.push(holdEnd[i]);
          }
        } else {
          const cells = lanes.map(() => new Uint8Array(w.px)), rank = [2, 1, 3, 1];
          const px = (t) => Math.min(w.px - 1, Math.max(0, Math.floor((t - w.t0) / (w.t1 - w.t0) * w.px)));
          for (const i of seen) {
            const row = cells[laneOf.get(procs[i])];
            for (let x = px(start[i]); x <= px(end[i]); x++) if (rank[outcome[i]] > row[x]) row[x] = rank[outcome[i]];
          }
          v.bins = cells.map((row) => String.fromCharCode(...row.map((c) => c + 48)));
        }
        return Promise.resolve(v);
      },
      // The charts as the server reduces them (see timeline.rs `charts`).
      charts(width) {
        const seconds = Math.max(1, Math.ceil(last / 1e9)), throughput = Array.from({ length: seconds }, () => [0, 0, 0, 0]);
        let max = 1e6, shortest = Infinity;
        for (let i = 0; i < start.length; i++) {
          throughput[Math.min(seconds - 1, Math.floor(end[i] / 1e9))][outcome[i]]++;
          max = Math.max(max, end[i] - start[i]);
          if (end[i] > start[i]) shortest = Math.min(shortest, end[i] - start[i]);
        }
        let floor = 1e3;
        while (floor * 10 <= shortest && floor < 1e9) floor *= 10;
        // One number per cell (kind, row + 1, pixel): a string key per
        // operation costs a third of a million-event file's first drawing.
        const cells = new Map(), rows = 4096, lf = Math.log10(floor);
        for (let i = 0; i < start.length; i++) {
          const x = Math.min(width - 1, Math.floor(start[i] / Math.max(last, 1) * width));
          const ns = end[i] - start[i];
          const row = ns < floor ? -1 : Math.min(rows - 2, Math.floor((Math.log10(ns) - lf) * LATENCY_ROWS));
          const k = (f[i] * rows + row + 1) * width + x;
          cells.set(k, (cells.get(k) || 0) | (1 << outcome[i]));
        }
        const latency = [];
        for (const [k, m] of cells) {
          const x = k % width, rest = (k - x) / width;
          latency.push(x, (rest % rows) - 1, m, Math.floor(rest / rows));
        }
        return { throughput, latency_max: max, latency_floor: floor, latency };
      },
    };
  }

  const LATENCY_ROWS = 50; // rows per decade: timeline.rs LATENCY_ROWS_PER_DECADE

  // Latency of each completed operation over time (log scale), one strip
  // per kind of operation (acquire, release, …), coloured by outcome.
  // `charts.latency` is already one cell per pixel, row and kind; a row of
  // -1 is under the chart's floor (an op that took no time), drawn in a
  // band under the strip's axis and labelled so, not clamped onto it.
  function latency(canvas, charts, end, faults, fs) {
    const cells = charts.latency, columns = charts.width || 800;
    const kinds = [...new Set(cells.filter((_, i) => i % 4 === 3))].sort((a, b) => kindRank(fs[a]) - kindRank(fs[b]) || a - b);
    const under = cells.some((v, i) => i % 4 === 1 && v < 0);
    const strips = Math.max(kinds.length, 1);
    const stripH = Math.max(70, Math.min(200, Math.floor(240 / strips))), band = under ? 12 : 0, gap = 8;
    const top = 22;
    const { ctx, width, height } = prepare(canvas, top + strips * (stripH + band + gap) + AXIS);
    const left = 64, bottom = height - AXIS, plot = width - left - 8;
    end = Math.max(end, 1);
    const floor = charts.latency_floor || 1e4;
    const lo = Math.log10(floor), hi = Math.max(Math.log10(charts.latency_max) + 0.1, lo + 1);
    const xOf = (t) => left + t / end * plot;
    kinds.forEach((f, k) => {
      const y0 = top + k * (stripH + band + gap), y1 = y0 + stripH;
      const yOf = (ns) => y1 - (Math.log10(ns) - lo) / (hi - lo) * stripH;
      shadeFaults(ctx, faults, xOf, y0, y1 + band, null);
      for (const bit of [3, 0, 1, 2]) {
        ctx.fillStyle = COLOR[OUTCOME[bit]];
        for (let i = 0; i < cells.length; i += 4) {
          if (cells[i + 3] !== f || !(cells[i + 2] & (1 << bit))) continue;
          const y = cells[i + 1] < 0 ? y1 + band / 2 + 1 : y1 - (cells[i + 1] + 0.5) / LATENCY_ROWS / (hi - lo) * stripH;
          ctx.fillRect(left + cells[i] / columns * plot, y - 1, 2, 2);
        }
      }
      ctx.fillStyle = COLOR.axis;
      ctx.fillRect(left - 1, y0, 1, stripH + band);
      ctx.fillRect(left, y1, plot, 1);
      // Decades, thinned so their labels do not touch.
      const every = Math.max(1, Math.ceil(14 / (stripH / (hi - lo))));
      ctx.textAlign = 'right';
      for (let e = Math.ceil(lo); e <= hi; e += every) {
        const y = yOf(Math.pow(10, e));
        ctx.fillRect(left - 4, y, 4, 1);
        ctx.fillText(latencyLabel(Math.pow(10, e)), left - 6, y + 4);
      }
      if (under) ctx.fillText('< ' + latencyLabel(floor), left - 6, y1 + band - 1);
      ctx.textAlign = 'left';
      ctx.fillStyle = COLOR.axis; ctx.fillText(fs[f] || '?', left + 4, y0 + 11);
    });
    if (!kinds.length) { ctx.fillStyle = COLOR.axis; ctx.fillText('no operation completed', left + 4, top + 30); }
    ctx.fillStyle = COLOR.axis;
    ctx.fillText('latency, invoke to completion (log scale)', 2, 12);
    legend(ctx, OUTCOME_LEGEND(), width - 4, 12);
    axis(ctx, left, left + plot, bottom, 0, end);
  }

  // Completions per second, stacked by outcome: ok, then busy (refused
  // because another client held the lock: contention, not an outage), then
  // errors and unknown outcomes on top.
  function throughput(canvas, buckets, end, faults) {
    const { ctx, width, height } = prepare(canvas, 260);
    const left = 56, top = 22, bottom = height - AXIS, plot = width - left - 8;
    end = Math.max(end, 1);
    const most = buckets.reduce((m, b) => Math.max(m, b.reduce((a, v) => a + (v || 0), 0)), 1);
    const { ticks, top: max } = niceTicks(most, 4);
    const xOf = (t) => left + t / end * plot;
    shadeFaults(ctx, faults, xOf, top, bottom, null);
    buckets.forEach((b, i) => {
      // The last second may be cut short by the end of the run.
      const x = xOf(i * 1e9), bw = Math.max(Math.min(xOf((i + 1) * 1e9), left + plot) - x - 1, 1);
      let y = bottom;
      for (const out of [0, 3, 1, 2]) {
        const h = (b[out] || 0) / max * (bottom - top);
        ctx.fillStyle = COLOR[OUTCOME[out]]; ctx.fillRect(x, y - h, bw, h); y -= h;
      }
    });
    ctx.fillStyle = COLOR.axis;
    ctx.fillRect(left - 1, top, 1, bottom - top);
    ctx.textAlign = 'right';
    for (const v of ticks) {
      const y = bottom - v / max * (bottom - top);
      ctx.fillRect(left - 4, y, 4, 1);
      ctx.fillText(String(v), left - 6, y + 4);
    }
    ctx.textAlign = 'left';
    ctx.fillText('completions per second', 2, 12);
    legend(ctx, OUTCOME_LEGEND(), width - 4, 12);
    axis(ctx, left, left + plot, bottom, 0, end);
  }

  async function fetchJson(url, options) {
    const r = await fetch(url, options);
    const body = await r.json();
    if (!r.ok) throw new Error(body.error || r.statusText);
    return body;
  }

  // Each anomaly listed on the report links to the timeline: a click zooms
  // to it with its processes' lanes filled. Matched by checker and words
  // (the list and the timeline's marks are the same anomalies).
  function linkAnomalies(tl) {
    const marks = tl.base().anomalies || [];
    for (const li of document.querySelectorAll('ol.anomalies li')) {
      const words = li.querySelector('.words');
      const mark = words && marks.find((m) => m.checker === li.dataset.checker && m.text === words.textContent);
      if (!mark || li.querySelector('a.show')) continue;
      const a = document.createElement('a');
      a.href = '#timeline'; a.className = 'show'; a.textContent = 'show on the timeline';
      a.addEventListener('click', (e) => {
        e.preventDefault();
        document.getElementById('timeline').scrollIntoView({ block: 'center' });
        tl.focus(mark);
      });
      li.append(' ', a);
    }
  }

  function report() {
    const canvas = document.getElementById('timeline');
    const id = canvas.dataset.run, live = canvas.dataset.live === 'true';
    const status = document.getElementById('timeline-status');
    const latencyCanvas = document.getElementById('latency'), throughputCanvas = document.getElementById('throughput');
    const chartPx = () => Math.max(1, Math.round((latencyCanvas.clientWidth || 800) - 72));
    const charts = (c, end, faults, fs) => {
      latency(latencyCanvas, c, end, faults, fs);
      throughput(throughputCanvas, c.throughput, end, faults);
    };
    linearizability();
    const ready = (t0) => {
      // How long the first drawing took, for measuring big runs.
      document.body.dataset.drawMs = String(Math.round(performance.now() - t0));
      // And since the page was asked for: how long until it answers.
      document.body.dataset.readyAt = String(Math.round(performance.now()));
      document.body.dataset.ready = '1';
    };
    const failed = (e) => { status.textContent = 'timeline unavailable: ' + e.message; document.body.dataset.ready = '1'; };
    if (canvas.dataset.offline === 'true') {
      // A report written to one file (`report --html`): the whole timeline
      // is in the page, kept and viewed as a live run's is.
      const data = JSON.parse(document.getElementById('offline-data').textContent);
      const store = liveStore(), t0 = performance.now();
      store.add(data);
      const base = { ...store.base(), anomalies: data.anomalies || [], leaders: data.leaders || [] };
      store.view({ t0: 0, t1: Math.max(base.end, 1), px: 800 }).then((v) => {
        window.__timeline = timeline(canvas, status, { ...base, ...v }, (w) => store.view(w));
        linkAnomalies(window.__timeline);
        return window.__timeline.refresh();
      }).then(() => {
        const width = chartPx();
        charts({ ...store.charts(width), width }, base.end, base.faults, base.fs);
        ready(t0);
      }).catch(failed);
      return;
    }
    if (!live) {
      const url = (q) => `/api/v1/runs/${encodeURIComponent(id)}/timeline?` + new URLSearchParams(q);
      fetchJson(url({ px: Math.max(1, (canvas.clientWidth || 800) - GUTTER - 4), charts: chartPx() })).then((first) => {
        const t0 = performance.now();
        const details = (op) => fetchJson(`/api/v1/runs/${encodeURIComponent(id)}/op?` +
          new URLSearchParams({ process: op.process, invoke: op.start }));
        window.__timeline = timeline(canvas, status, first, (w) => fetchJson(url(w)), details);
        linkAnomalies(window.__timeline);
        charts({ ...first.charts, width: chartPx() }, first.end, first.faults, first.fs);
        ready(t0);
      }).catch(failed);
      return;
    }
    // A live run: its operations arrive as events and are kept here; the
    // page redraws at most once a second, and reloads once the run is done.
    const store = liveStore();
    let tl = null, pending = null;
    const redraw = () => {
      pending = null;
      const t0 = performance.now(), base = store.base();
      const done = tl ? tl.grow(base) : store.view({ t0: 0, t1: Math.max(base.end, 1), px: 800 }).then((v) => {
        tl = window.__timeline = timeline(canvas, status, { ...base, ...v }, (w) => store.view(w));
        return tl.refresh();
      });
      done.then(() => {
        const width = chartPx();
        charts({ ...store.charts(width), width }, base.end, base.faults, base.fs);
        ready(t0);
      }).catch(failed);
    };
    const events = new EventSource(`/runs/${encodeURIComponent(id)}/events`);
    events.addEventListener('ops', (e) => {
      store.add(JSON.parse(e.data));
      if (!pending) pending = setTimeout(redraw, tl ? 1000 : 0);
    });
    events.addEventListener('error', (e) => {
      // The server's word on a line it could not read, or the connection
      // lost: the page starts again rather than stream the run twice.
      if (e.data) { window.__errors.push('live events: ' + e.data); return; }
      events.close(); setTimeout(() => window.location.reload(), 2000);
    });
    events.addEventListener('done', () => { events.close(); window.location.reload(); });
  }

  // The report's failing linearizability checks, drawn as the check page
  // draws an upload's, on the run's own time scale.
  function linearizability() {
    const data = document.getElementById('lin-data');
    if (!data) return;
    JSON.parse(data.textContent).forEach((e, i) => {
      const canvas = document.getElementById(`lin-${i}`);
      drawPartial(canvas, e.partition, document.getElementById(`lin-${i}-words`), { origin: 0, id: `lin-${i}-stuck` });
      window.addEventListener('resize', () => drawPartial(canvas, e.partition, null, { origin: 0 }));
    });
  }

  // p99 grant latency per system and faults, on a log scale: one system's
  // 0.8 ms and another's 417 ms both have to show.
  function compare() {
    const cells = JSON.parse(document.getElementById('compare-data').textContent);
    const canvas = document.getElementById('compare-chart');
    const rowH = 18, left = 260, top = 20;
    const { ctx, width } = prepare(canvas, Math.max(60, top + cells.length * rowH + AXIS));
    const plot = width - left - 80;
    const values = cells.map((c) => c.p99).filter((v) => v > 0);
    const lo = Math.floor(Math.log10(Math.min(...values, 1)));
    const hi = Math.max(Math.ceil(Math.log10(Math.max(...values, 1))), lo + 1);
    const xOf = (ms) => left + (Math.log10(Math.max(ms, Math.pow(10, lo))) - lo) / (hi - lo) * plot;
    const ms = (v) => v >= 1000 ? v / 1000 + ' s' : v + ' ms';
    const bottom = top + cells.length * rowH;
    ctx.strokeStyle = '#e0e0e0'; ctx.lineWidth = 1;
    for (let e = lo; e <= hi; e++) {
      const x = xOf(Math.pow(10, e));
      ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom + 4); ctx.stroke();
      const label = ms(Number(Math.pow(10, e).toPrecision(1)));
      ctx.fillStyle = COLOR.axis; ctx.textAlign = 'center'; ctx.fillText(label, x, bottom + 16); ctx.textAlign = 'left';
    }
    cells.forEach((c, i) => {
      const y = top + i * rowH;
      ctx.fillStyle = COLOR.axis; ctx.fillText(c.label, 4, y + 12, left - 8);
      if (c.p99 == null) { ctx.fillText('no grants', left + 4, y + 12); return; }
      ctx.fillStyle = c.verdict === 'invalid' ? COLOR.anomaly : c.verdict === 'valid' ? COLOR.ok : COLOR.info;
      const w = Math.max(xOf(c.p99) - left, 1);
      ctx.fillRect(left, y + 3, w, rowH - 6);
      ctx.fillStyle = COLOR.axis; ctx.fillText(c.p99.toFixed(1) + ' ms', left + w + 4, y + 12);
    });
    ctx.fillStyle = COLOR.axis;
    ctx.fillText('p99 grant latency (log scale)', left, 12);
    legend(ctx, [[COLOR.ok, 'valid'], [COLOR.anomaly, 'invalid'], [COLOR.info, 'unknown']], width - 4, 12);
    document.body.dataset.ready = '1';
  }

  // The check page: upload, verdict, and for a failure Porcupine-style the
  // longest partial linearization: the ops placed so far numbered in order,
  // the op that cannot be placed in red, the ops concurrent with it outlined.
  const CHOSEN = { given: 'given here', stated: 'stated in the file', inferred: 'inferred from the ops', default: "the model's default" };

  function checkPage() {
    const form = document.getElementById('check-form');
    const out = document.getElementById('check-result');
    const canvas = document.getElementById('check-timeline');
    document.body.dataset.ready = '1';
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const file = document.getElementById('check-file').files[0];
      const body = file ? await file.text() : document.getElementById('check-text').value;
      const q = new URLSearchParams({
        model: document.getElementById('check-model').value,
        format: document.getElementById('check-format').value,
        initial: document.getElementById('check-initial').value,
        timeout_ms: String(Number(document.getElementById('check-timeout').value || 10) * 1000),
      });
      out.textContent = 'checking…'; canvas.parentElement.hidden = true;
      try {
        const r = await fetchJson('/api/v1/check?' + q, { method: 'POST', body });
        const failing = (r.result.partitions || []).find((p) => p.verdict === 'invalid');
        out.innerHTML = '';
        const h = document.createElement('p');
        const v = document.createElement('span');
        const verdict = VERDICTS.includes(r.verdict) ? r.verdict : 'unknown';
        v.className = 'verdict ' + verdict;
        v.id = 'check-verdict'; v.textContent = verdict;
        const words = document.createElement('strong');
        // Why a check is undecided (its deadline, the memory cap) is in its partitions.
        const reason = verdict === 'unknown' && (r.result.partitions || []).map((p) => p.reason).find(Boolean);
        words.id = 'check-words'; words.textContent = LINEARIZABILITY[verdict] + (reason ? ` (${reason})` : '');
        h.append(v, ' ', words, ` — ${r.result.ops} operations in ${r.result.partitions.length} partition${r.result.partitions.length === 1 ? '' : 's'}, ${r.result.elapsed_ms.toFixed(1)} ms`);
        // What it was checked with, and where each came from (the API's
        // one rule: given here, else stated in the file, else inferred or
        // the model's default).
        const used = document.createElement('p');
        used.id = 'check-used';
        const init = r.initial_from ? `, initial ${r.initial === null ? 'nil' : JSON.stringify(r.initial)} (${CHOSEN[r.initial_from] || r.initial_from})` : '';
        used.textContent = `model ${r.model} (${CHOSEN[r.model_from] || r.model_from})${init}`;
        out.append(h, used);
        if (failing && failing.partials && failing.partials.length) {
          drawPartial(canvas, failing, out, { id: 'check-stuck', untimed: r.untimed });
        }
      } catch (err) {
        out.innerHTML = '';
        const p = document.createElement('p'); p.className = 'error'; p.id = 'check-error'; p.textContent = err.message; out.append(p);
      }
      document.body.dataset.checked = '1';
    });
  }

  // A partition's longest partial linearization on `canvas`, and in words
  // appended to `out` (none when null: a redraw). A partition cut to the
  // ops around the stuck one (see the run page) carries `numbers`, each
  // placed op's place in the whole linearization. `opts.origin` is the time
  // the ticks count from (default: the first op drawn); `opts.untimed` for
  // histories whose times are positions.
  function drawPartial(canvas, partition, out, opts = {}) {
    const partial = partition.partials[0], ops = partition.operations;
    const order = new Map(partial.prefix.map((op, i) => [op, partial.numbers ? partial.numbers[i] : i + 1]));
    const concurrent = new Set(partial.concurrent);
    const procs = [...new Set(ops.map((o) => o.process))].sort((a, b) => a - b);
    const start = Math.min(...ops.map((o) => o.invoke_time));
    const end = Math.max(...ops.map((o) => o.complete_time ?? o.invoke_time)) + 1;
    canvas.hidden = false;
    if (canvas.parentElement) canvas.parentElement.hidden = false;
    const laneH = 22;
    const { ctx, width } = prepare(canvas, procs.length * laneH + AXIS + 10);
    const gutter = Math.max(GUTTER, ...procs.map((p) => Math.ceil(ctx.measureText(laneLabel(p)).width) + 10));
    const plot = width - gutter - 8;
    const xOf = (t) => gutter + (t - start) / (end - start) * plot;
    ops.forEach((o, i) => {
      const lane = procs.indexOf(o.process);
      const x = xOf(o.invoke_time), w = Math.max(xOf(o.complete_time ?? end) - x, 3), y = 6 + lane * laneH;
      ctx.fillStyle = i === partial.stuck ? COLOR.anomaly : order.has(i) ? COLOR.ok : COLOR.unplaced;
      ctx.fillRect(x, y, w, laneH - 8);
      if (concurrent.has(i)) { ctx.strokeStyle = COLOR.info; ctx.lineWidth = 2; ctx.strokeRect(x, y, w, laneH - 8); }
      ctx.fillStyle = '#fff';
      if (order.has(i)) {
        const n = String(order.get(i));
        ctx.fillText(n, Math.min(x + 2, width - ctx.measureText(n).width - 1), y + 11);
      }
    });
    ctx.fillStyle = COLOR.axis;
    procs.forEach((p, i) => ctx.fillText(laneLabel(p), 4, 6 + i * laneH + 12));
    axis(ctx, gutter, gutter + plot, procs.length * laneH + 6, start, end,
      { origin: opts.origin ?? start, untimed: opts.untimed });
    canvas.dataset.drawn = '1';
    if (!out) return;
    const placed = partial.placed ?? partial.prefix.length;
    const stuck = ops[partial.stuck];
    const p = document.createElement('p');
    if (opts.id) p.id = opts.id;
    p.textContent = `Longest partial linearization: ${placed} operations placed (green, numbered); ` +
      `state after them: ${partial.state_after}; cannot place: ${stuck ? stuck.description : '?'} (red); ` +
      `concurrent with it: ${partial.concurrent.length} (outlined).` +
      (partial.omitted ? ` Drawn: the last ${partial.prefix.length} placed and the operations around the one that cannot be placed; ${partial.omitted} more of this key are in results.json.` : '');
    out.append(p);
  }

  return { report, compare, checkPage, timeline };
})();
