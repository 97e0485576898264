// The tokengate dashboard page: reads the server's event stream (a snapshot a
// second) and draws it; sends controls as POSTs with the session's CSRF token.
//
// Every value from the server is written with textContent or as an attribute
// value, never parsed as markup: operation names and messages are the
// program's data, and may contain anything.
'use strict';

(() => {
  const WINDOW = 300; // samples kept: five minutes, one a second
  const SVG = 'http://www.w3.org/2000/svg';
  const HEALTH = ['healthy', 'degraded', 'blocked', 'probing'];

  let csrf = null;
  let csrfHeader = 'x-csrf-token';
  let history = [];
  let source = null;

  const $ = (id) => document.getElementById(id);

  // ---- formatting -------------------------------------------------------

  const int = new Intl.NumberFormat('en-US');
  const count = (n) => (n == null ? '–' : int.format(n));

  function seconds(s) {
    if (s == null) return '–';
    if (s === 0) return '0';
    const units = [[1e-6, 'ns', 1e9], [1e-3, 'µs', 1e6], [1, 'ms', 1e3], [Infinity, 's', 1]];
    for (const [below, unit, factor] of units) {
      if (s < below) {
        const v = s * factor;
        return `${v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${unit}`;
      }
    }
    return `${s.toFixed(1)} s`;
  }

  function rate(r) {
    if (r == null) return '–';
    if (r === 0) return '0';
    return r >= 100 ? int.format(Math.round(r)) : r.toFixed(1);
  }

  // A LivePath: "sticky", "lead_group", or {"lane": "medium"}, {"storage": "FAST"}.
  function path(p) {
    if (typeof p === 'string') return p.replace('_', ' ');
    if (p && typeof p === 'object') {
      const [kind, value] = Object.entries(p)[0] || ['?', ''];
      return `${kind} ${value}`;
    }
    return '?';
  }

  // ---- DOM helpers ------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === 'class') node.className = value;
      else if (key === 'text') node.textContent = value;
      else if (key.startsWith('data-')) node.setAttribute(key, value);
      else node[key] = value;
    }
    node.append(...children); // strings become text nodes
    return node;
  }

  // A long span, to the second: `42 s`, `7 min 5 s`, `3 h 12 min`.
  function uptime(s) {
    const whole = Math.floor(s);
    if (whole < 60) return `${whole} s`;
    if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
    return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
  }

  function setText(node, text) {
    const value = String(text);
    if (node.textContent !== value) node.textContent = value;
  }

  function badge(text, cls) {
    return el('span', { class: `badge ${cls}`, text });
  }

  // Keeps tbody's rows in the order of `items`, one per key: rows are made
  // once and then only updated, so a button stays the same element (and a
  // click lands) across updates, and an input keeps what is being typed.
  function syncRows(tbody, items, key, build, update) {
    const existing = new Map();
    for (const row of Array.from(tbody.rows)) existing.set(row.dataset.key, row);
    let previous = null;
    for (const item of items) {
      const k = String(key(item));
      let row = existing.get(k);
      if (row) existing.delete(k);
      else {
        row = build(item);
        row.dataset.key = k;
      }
      update(row, item);
      const wanted = previous ? previous.nextSibling : tbody.firstChild;
      if (row !== wanted) tbody.insertBefore(row, wanted);
      previous = row;
    }
    for (const row of existing.values()) row.remove();
  }

  function cells(row, n, numeric) {
    for (let i = 0; i < n; i++) row.append(el('td', { class: numeric.includes(i) ? 'num' : '' }));
    return row;
  }

  function setFlags(td, flags) {
    const signature = flags.map(([t, c]) => `${c}:${t}`).join('|');
    if (td.dataset.flags === signature) return;
    td.dataset.flags = signature;
    td.replaceChildren(...flags.map(([text, cls]) => badge(text, cls)));
  }

  // ---- toasts and controls ----------------------------------------------

  let toastTimer = null;
  function toast(message, isError) {
    const node = $('toast');
    node.textContent = message;
    node.className = isError ? 'error' : '';
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { node.hidden = true; }, isError ? 8000 : 4000);
  }

  async function post(url, body) {
    const headers = { 'Content-Type': 'application/json' };
    if (csrf) headers[csrfHeader] = csrf;
    try {
      const response = await fetch(url, {
        method: 'POST', headers, body: JSON.stringify(body || {}), credentials: 'same-origin',
      });
      const answer = await response.json().catch(() => ({}));
      if (response.ok) toast(answer.message || 'done', false);
      else toast(answer.error || `the dashboard answered ${response.status}`, true);
      return response.ok;
    } catch (err) {
      toast(`the dashboard did not answer: ${err.message}`, true);
      return false;
    }
  }

  document.addEventListener('click', (event) => {
    const button = event.target.closest('button');
    if (!button || button.disabled) return;
    const d = button.dataset;
    if (d.action && d.op !== undefined) post(`/api/ops/${d.action}`, { op: d.op });
    else if (d.kill) post('/api/calls/kill', { id: d.kill });
    else if (d.admission) post(`/api/admission/${d.admission}`, {});
    else if (d.tier || d.limit !== undefined) setCap(button);
  });

  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Enter' || !event.target.matches('input[type=number]')) return;
    const button = event.target.parentElement.querySelector('button');
    if (button) setCap(button);
  });

  async function setCap(button) {
    const input = button.parentElement.querySelector('input');
    const cap = Number(input.value);
    if (!Number.isInteger(cap) || cap < 0) {
      toast('a cap is a whole number, 0 or more', true);
      return;
    }
    const ok = button.dataset.tier
      ? await post('/api/storage/cap', { tier: button.dataset.tier, cap })
      : await post('/api/limits/cap', { name: button.dataset.limit, cap });
    if (ok) delete input.dataset.dirty;
  }

  function capEditor(attr, value) {
    const input = el('input', { type: 'number', min: 0, step: 1 });
    input.addEventListener('input', () => { input.dataset.dirty = '1'; });
    const button = el('button', { type: 'button', text: 'set', [attr]: value });
    return el('td', { class: 'controls' }, input, button);
  }

  function showCap(row, cap) {
    const input = row.querySelector('input');
    if (document.activeElement !== input && !input.dataset.dirty) input.value = cap;
  }

  // ---- charts -----------------------------------------------------------

  function svgNode(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  // A "nice" upper bound for an axis: 1, 2 or 5 times a power of ten.
  function niceMax(v) {
    if (!(v > 0)) return 1;
    const p = 10 ** Math.floor(Math.log10(v));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  function drawChart(svg, legend, series, format) {
    const W = 640, H = 200, left = 58, right = 8, top = 8, bottom = 22;
    const end = history.length ? history[history.length - 1].t : Date.now() / 1000;
    const start = end - WINDOW;
    let max = 0;
    for (const s of history) for (const { key } of series) if (s[key] != null) max = Math.max(max, s[key]);
    max = niceMax(max);
    const x = (t) => left + ((t - start) / WINDOW) * (W - left - right);
    const y = (v) => top + (1 - v / max) * (H - top - bottom);
    const nodes = [];
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      nodes.push(svgNode('line', { class: 'grid', x1: left, x2: W - right, y1: y(v), y2: y(v) }));
      const label = svgNode('text', { class: 'axis', x: left - 6, y: y(v) + 4, 'text-anchor': 'end' });
      label.textContent = format(v);
      nodes.push(label);
    }
    for (const [t, text] of [[start, '−5 min'], [start + WINDOW / 2, '−2.5 min'], [end, 'now']]) {
      const anchor = t === start ? 'start' : t === end ? 'end' : 'middle';
      const label = svgNode('text', { class: 'axis', x: x(t), y: H - 6, 'text-anchor': anchor });
      label.textContent = text;
      nodes.push(label);
    }
    for (const { key, color } of series) {
      // A gap (no value) breaks the line.
      let points = [];
      const flush = () => {
        if (points.length > 1) nodes.push(svgNode('polyline', { points: points.join(' '), stroke: color }));
        points = [];
      };
      for (const s of history) {
        if (s.t < start) continue;
        if (s[key] == null) flush();
        else points.push(`${x(s.t).toFixed(1)},${y(s[key]).toFixed(1)}`);
      }
      flush();
    }
    svg.replaceChildren(...nodes);
    const last = history[history.length - 1] || {};
    legend.replaceChildren(...series.map(({ key, label, color }) => {
      const swatch = el('span', { class: 'swatch' });
      swatch.style.background = color;
      return el('span', {}, swatch, `${label} `, el('b', { text: format(last[key]) }));
    }));
  }

  function drawCharts() {
    drawChart($('chart-throughput'), $('legend-throughput'), [
      { key: 'completed', label: 'completed/s', color: '#1a7f37' },
      { key: 'submitted', label: 'submitted/s', color: '#1f6feb' },
      { key: 'failed', label: 'failed/s', color: '#c62828' },
      { key: 'killed', label: 'killed/s', color: '#b35900' },
    ], rate);
    drawChart($('chart-latency'), $('legend-latency'), [
      { key: 'p50', label: 'p50', color: '#1f6feb' },
      { key: 'p95', label: 'p95', color: '#b35900' },
      { key: 'p99', label: 'p99', color: '#c62828' },
      { key: 'mean', label: 'mean', color: '#6f42c1' },
    ], seconds);
  }

  // ---- tables -----------------------------------------------------------

  function renderTotals(stats) {
    const t = stats.tokens;
    for (const key of ['submitted', 'waiting', 'admitted', 'executing', 'completed', 'failed', 'killed', 'timed_out']) {
      setText($(`t-${key}`), count(t[key]));
    }
    setText($('t-in_flight'), count(stats.in_flight));
    $('admission').hidden = !stats.paused;
    $('admission').className = 'badge paused';
  }

  function opButton(op, action, label, danger) {
    return el('button', { type: 'button', class: danger ? 'danger' : '', text: label, 'data-op': op, 'data-action': action });
  }

  function renderOps(stats, blocked) {
    const tbody = $('ops').tBodies[0];
    syncRows(tbody, stats.ops, (o) => o.op, (o) => {
      const row = cells(el('tr'), 10, [1, 2, 3, 4, 5, 6, 7]);
      row.cells[0].className = 'name';
      row.append(el('td', { class: 'controls' },
        opButton(o.op, 'pause', 'pause'), opButton(o.op, 'resume', 'resume'),
        opButton(o.op, 'drain', 'drain', true), opButton(o.op, 'kill', 'kill all', true),
        opButton(o.op, 'block', 'block', true), opButton(o.op, 'unblock', 'unblock')));
      return row;
    }, (row, o) => {
      const c = o.counts;
      const td = row.cells;
      setText(td[0], o.op);
      td[0].title = o.op;
      setText(td[1], count(c.submitted));
      setText(td[2], count(c.completed));
      setText(td[3], count(c.failed + c.timed_out));
      setText(td[4], count(c.killed));
      setText(td[5], seconds(o.queue_wait.p95));
      setText(td[6], seconds(o.run_time.p50));
      setText(td[7], seconds(o.run_time.p99));
      const health = HEALTH.includes(o.health.state) ? o.health.state : 'unknown';
      setFlags(td[8], [[health, health]]);
      td[8].title = o.health.blocked_because || o.health.last_failure || '';
      const isBlocked = blocked.includes(o.op) || health === 'blocked' || health === 'probing';
      const flags = [];
      if (o.paused) flags.push([o.held ? `paused, ${o.held} held` : 'paused', 'flag']);
      if (isBlocked) flags.push(['blocked', 'alarm']);
      if (o.orphaned) flags.push([`${o.orphaned} bodies after kill`, 'alarm']);
      if (o.retries) flags.push([`${o.retries} retries`, 'flag']);
      if (o.expired) flags.push([`${o.expired} expired`, 'flag']);
      setFlags(td[9], flags);
      const buttons = td[10].querySelectorAll('button');
      buttons[0].disabled = o.paused;
      buttons[1].disabled = !o.paused;
      buttons[4].disabled = isBlocked;
      buttons[5].disabled = !isBlocked;
    });
    $('ops-empty').hidden = stats.ops.length > 0;
  }

  function renderLive(snapshot) {
    const tbody = $('live').tBodies[0];
    syncRows(tbody, snapshot.live, (c) => c.id, (c) => {
      const row = cells(el('tr'), 8, [0, 4, 5, 6]);
      row.cells[1].className = 'name';
      row.append(el('td', {}, el('button', { type: 'button', class: 'danger', text: 'kill', 'data-kill': String(c.id) })));
      return row;
    }, (row, c) => {
      const td = row.cells;
      setText(td[0], c.id);
      setText(td[1], c.op);
      setText(td[2], c.state.toLowerCase().replace('_', ' '));
      setText(td[3], path(c.path));
      setText(td[4], c.worker == null ? '' : c.worker);
      setText(td[5], seconds(c.age));
      setText(td[6], seconds(c.running_for));
      const flags = [];
      if (c.body_running) flags.push(['body still running after kill', 'alarm']);
      if (c.over_p99) flags.push(['over p99', 'flag']);
      setFlags(td[7], flags);
      td[8].firstChild.disabled = c.body_running;
    });
    const shown = snapshot.live.length;
    setText($('live-count'), snapshot.live_total > shown
      ? `${count(snapshot.live_total)} in flight, the oldest ${shown} shown`
      : `${count(snapshot.live_total)} in flight`);
    $('live-empty').hidden = snapshot.live_total > 0;
  }

  function meter(td, running, cap) {
    let bar = td.querySelector('.meter > span');
    let label = td.lastChild;
    if (!bar) {
      bar = el('span');
      label = document.createTextNode('');
      td.replaceChildren(el('span', { class: 'meter' }, bar), label);
    }
    bar.style.width = `${cap ? Math.min(100, (100 * running) / cap) : running ? 100 : 0}%`;
    label.textContent = `${count(running)} / ${cap == null ? '∞' : count(cap)}`;
  }

  function renderLanes(stats) {
    syncRows($('lanes').tBodies[0], stats.lanes, (l) => l.weight, () => cells(el('tr'), 5, [1, 2, 3, 4]), (row, l) => {
      const td = row.cells;
      setText(td[0], l.weight);
      setText(td[1], `${count(l.depth)} / ${count(l.capacity)}`);
      setText(td[2], count(l.in_line));
      setText(td[3], seconds(l.oldest_wait));
      setText(td[4], count(l.counts.completed));
    });
  }

  function renderWorkers(stats, running) {
    syncRows($('workers').tBodies[0], stats.workers, (w) => w.index, () => {
      const row = cells(el('tr'), 6, [0, 1, 4, 5]);
      row.cells[3].className = 'name';
      return row;
    }, (row, w) => {
      const td = row.cells;
      setText(td[0], w.index);
      setText(td[1], w.roams ? `${w.group} (roams)` : w.group);
      setFlags(td[2], [w.busy ? ['busy', 'busy'] : ['idle', '']]);
      setText(td[3], running[w.index] || '');
      setText(td[4], count(w.queued));
      setText(td[5], count(w.ran));
    });
  }

  function renderTiers(stats) {
    syncRows($('tiers').tBodies[0], stats.storage, (t) => t.speed, (t) => {
      const row = cells(el('tr'), 5, [1, 2, 3, 4]);
      row.append(capEditor('data-tier', t.speed));
      return row;
    }, (row, t) => {
      const td = row.cells;
      setText(td[0], t.speed.toLowerCase());
      meter(td[1], t.running, t.cap);
      setText(td[2], t.in_line ? `${count(t.waiting)} (+${count(t.in_line)} in line)` : count(t.waiting));
      setText(td[3], count(t.high_water));
      setText(td[4], count(t.counts.completed));
      showCap(row, t.cap);
    });
  }

  function renderLimits(stats) {
    syncRows($('limits').tBodies[0], stats.limits, (l) => l.name, (l) => {
      const row = cells(el('tr'), 5, [1, 2, 4]);
      row.cells[0].className = 'name';
      row.append(capEditor('data-limit', l.name));
      return row;
    }, (row, l) => {
      const td = row.cells;
      setText(td[0], l.name);
      meter(td[1], l.running, l.cap);
      setText(td[2], count(l.waiting));
      setText(td[3], l.rate ? `${l.rate.calls} per ${seconds(l.rate.per)}` : '');
      setText(td[4], count(l.started));
      showCap(row, l.cap == null ? '' : l.cap);
    });
    $('limits-empty').hidden = stats.limits.length > 0;
  }

  function renderBulk(snapshot) {
    // A map has no id of its own: its place in the list (oldest first) is
    // stable while it runs.
    const maps = snapshot.bulk.map((b, i) => ({ ...b, place: i }));
    syncRows($('bulk').tBodies[0], maps, (b) => b.place, () => {
      const row = cells(el('tr'), 5, [1, 2, 3, 4]);
      row.cells[0].className = 'name';
      return row;
    }, (row, b) => {
      const td = row.cells;
      setText(td[0], b.label);
      meter(td[1], b.done, b.total);
      setText(td[2], count(b.failed));
      setText(td[3], count(b.in_flight));
      setText(td[4], seconds(b.elapsed));
    });
    $('bulk-empty').hidden = maps.length > 0;
  }

  function facts(dl, pairs) {
    const signature = JSON.stringify(pairs);
    if (dl.dataset.signature === signature) return;
    dl.dataset.signature = signature;
    dl.replaceChildren(...pairs.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]));
  }

  function renderFacts(snapshot) {
    const s = snapshot.stats;
    facts($('domains'), [
      ['sticky domains', count(s.sticky_domains)],
      ['lead domains', count(s.lead_domains)],
      ['unlisted calls in leads', count(s.lead_unlisted_calls)],
      ['IO threads', count(s.io_threads)],
      ['bodies running after kill', count(s.orphaned_bodies)],
      ['blocked operations', snapshot.blocked.length ? snapshot.blocked.join(', ') : 'none'],
    ]);
    const p = s.processes;
    facts($('processes'), [
      ['alive / size', `${count(p.alive)} / ${count(p.size)} (${count(p.idle)} idle)`],
      ['started', count(p.spawned)],
      ['restarts', count(Math.max(0, p.spawned - p.alive))],
      ['lost mid-call', count(p.lost)],
      ['died idle', count(p.died_idle)],
      ['killed with their call', count(p.killed)],
      ['calls waiting / in flight', `${count(p.waiting)} / ${count(p.in_flight)} (pipeline ${count(p.pipeline)})`],
      ['calls resent', count(p.resent)],
      ['pids', snapshot.pids.length ? snapshot.pids.join(' ') : 'none'],
    ]);
    // Only a coordinator with a remote backend has remote stats.
    const r = s.remote;
    $('remote-section').hidden = !r;
    if (r) {
      const busy = r.workers.reduce((sum, w) => sum + w.busy, 0);
      const slots = r.workers.reduce((sum, w) => sum + w.slots, 0);
      facts($('remote'), [
        ['broker', r.connection],
        ['worker hosts', `${count(r.workers.length)} (${count(busy)} / ${count(slots)} slots busy)`],
        ['in flight / window', `${count(r.in_flight)} / ${count(r.max_in_flight)}`],
        ['waiting for room', r.in_line ? `${count(r.waiting)} (+${count(r.in_line)} in line)` : count(r.waiting)],
        ['submitted', count(r.submitted)],
        ['redelivered', count(r.redelivered)],
        ['duplicates dropped', count(r.duplicates_dropped)],
        ['poison jobs', count(r.poison)],
        ['broker unavailable', count(r.unavailable)],
      ]);
    }
  }

  // The worker hosts a remote backend has heard from lately, each with its
  // slots; a host that stops or falls silent drops out.
  function renderRemoteWorkers(stats) {
    const workers = stats.remote ? stats.remote.workers : [];
    syncRows($('remote-workers').tBodies[0], workers, (w) => `${w.pool}/${w.id}`, () => {
      const row = cells(el('tr'), 7, [2, 3, 5, 6]);
      row.cells[0].className = 'name';
      return row;
    }, (row, w) => {
      const td = row.cells;
      row.title = `worker ${w.id}`;
      setText(td[0], `${w.host} (pid ${w.pid})`);
      setText(td[1], w.pool);
      meter(td[2], w.busy, w.slots);
      setText(td[3], count(w.done));
      setText(td[4], w.weights.concat(w.sticky ? ['sticky'] : []).join(', '));
      setText(td[5], uptime(w.up));
      setText(td[6], `${uptime(w.last_seen)} ago`);
    });
    $('remote-workers-empty').hidden = workers.length > 0;
  }

  function render(snapshot) {
    const stats = snapshot.stats;
    renderTotals(stats);
    renderOps(stats, snapshot.blocked);
    renderLive(snapshot);
    renderLanes(stats);
    renderWorkers(stats, snapshot.running);
    renderTiers(stats);
    renderLimits(stats);
    renderBulk(snapshot);
    renderFacts(snapshot);
    renderRemoteWorkers(stats);
    const last = history[history.length - 1];
    if (!last || snapshot.sample.t > last.t) history.push(snapshot.sample);
    if (history.length > WINDOW) history.splice(0, history.length - WINDOW);
    drawCharts();
    const when = new Date(snapshot.sample.t * 1000).toLocaleTimeString();
    setText($('updated'), snapshot.running_coordinator
      ? `updated ${when}` : `updated ${when}; the coordinator has stopped`);
  }

  // ---- connection -------------------------------------------------------

  function connection(state, text) {
    const node = $('conn');
    node.className = `badge ${state}`;
    setText(node, text);
  }

  function connect() {
    source = new EventSource('/api/events');
    source.addEventListener('history', (event) => {
      history = JSON.parse(event.data);
      drawCharts();
    });
    source.addEventListener('snapshot', (event) => {
      connection('live', 'live');
      render(JSON.parse(event.data));
    });
    source.onerror = async () => {
      connection('down', 'reconnecting');
      if (source.readyState !== EventSource.CLOSED) return; // the browser retries
      const answer = await fetch('/api/session', { credentials: 'same-origin' }).catch(() => null);
      if (answer && answer.status === 401) {
        connection('down', 'signed out');
        toast('The session has ended: open the dashboard URL with its token again.', true);
      } else {
        setTimeout(connect, 2000);
      }
    };
  }

  async function start() {
    const answer = await fetch('/api/session', { credentials: 'same-origin' }).catch(() => null);
    if (!answer || !answer.ok) {
      connection('down', 'signed out');
      toast('This page needs the dashboard URL with its token (…/?token=…).', true);
      return;
    }
    const session = await answer.json();
    csrf = session.csrf;
    csrfHeader = session.csrf_header || csrfHeader;
    connect();
  }

  start();
})();
