// ContentHub operator dashboard. Everything that comes from the API is put on
// the page as text through DOM APIs; the one exception is the article
// preview, which the server has already sanitised and which is shown in a
// sandboxed frame that cannot run scripts.
'use strict';

const API = '/api/v1';
const TOKEN_KEY = 'contenthub.token';
const PAGE_SIZE = 50;
const CANCELLABLE = ['pending', 'submitted', 'processing'];
// A deadline means something while a task runs, and explains a timeout.
const HAS_DEADLINE = ['pending', 'submitted', 'processing', 'timeout'];
const RETRYABLE = ['failed', 'timeout', 'cancelled'];

const byId = (id) => document.getElementById(id);
const notice = byId('notice');
const tokenDialog = byId('token-dialog');

let stream = null; // the open EventSource of the current view
let reconnectTimer = 0;
let routeGen = 0; // bumped on every navigation, so a slow load cannot open a stale stream

// ---- small helpers ----

// el builds an element; children are nodes or strings (added as text).
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function time(iso) {
  if (!iso) return '—';
  return el('time', { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}

function statusBadge(status) {
  return el('span', { class: 'status status-' + status }, status);
}

function taskLink(id, text) {
  return el('a', { href: '#/tasks/' + encodeURIComponent(id) }, text || id);
}

function articleLink(id, text) {
  return el('a', { href: '#/contents/' + encodeURIComponent(id) }, text || id);
}

// articleDocument wraps HTML that the server rendered and sanitised; the
// frames that show it are sandboxed without allow-scripts and inherit the
// page's CSP, so it stays inert all the same.
function articleDocument(html) {
  return '<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="preview.css">' +
    '</head><body>' + html + '</body></html>';
}

function showNotice(message) {
  notice.textContent = message;
  notice.hidden = !message;
}

function setLive(state) {
  for (const node of document.querySelectorAll('[data-live]')) node.textContent = state;
}

// ---- API access ----

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

async function api(path, options = {}) {
  const headers = Object.assign({ Accept: 'application/json' }, options.headers);
  if (token()) headers.Authorization = 'Bearer ' + token();
  const res = await fetch(API + path, Object.assign({}, options, { headers }));
  const body = await res.json().catch(() => null);
  if (res.ok) return body;
  if (res.status === 401) askToken('The API needs a valid bearer token.');
  const err = body && body.error;
  const detail = err ? err.message + (err.field ? ' (' + err.field + ')' : '') : res.statusText;
  throw new ApiError(res.status, detail || 'request failed');
}

function post(path, data, headers) {
  return api(path, {
    method: 'POST',
    headers: Object.assign({ 'Content-Type': 'application/json' }, headers),
    body: JSON.stringify(data || {}),
  });
}

// openStream follows task events; EventSource cannot send headers, so the
// token travels as ?access_token= on these routes only.
function openStream(gen, path, params, onTask) {
  if (gen !== routeGen) return;
  closeStream();
  const query = new URLSearchParams(params);
  if (token()) query.set('access_token', token());
  const source = new EventSource(API + path + (query.toString() ? '?' + query : ''));
  stream = source;
  setLive('connecting…');
  source.onopen = () => setLive('● live');
  source.addEventListener('task', (e) => {
    let event;
    try { event = JSON.parse(e.data); } catch (_) { return; } // ignore a malformed event
    Promise.resolve(onTask(event)).catch((err) => showNotice(err.message));
  });
  source.onerror = () => {
    if (source.readyState !== EventSource.CLOSED) { setLive('reconnecting…'); return; }
    // Refused for good (401, 404, 503): reload the view later, which re-checks access.
    setLive('live updates off');
    reconnectTimer = setTimeout(() => { if (stream === source) route(); }, 10000);
  };
}

function closeStream() {
  clearTimeout(reconnectTimer);
  if (stream) stream.close();
  stream = null;
  setLive('');
}

// ---- token dialog ----

function askToken(reason) {
  if (tokenDialog.open) return;
  byId('token-reason').textContent = reason;
  tokenDialog.querySelector('input').value = token();
  tokenDialog.returnValue = ''; // Escape keeps the previous value otherwise
  tokenDialog.showModal();
}

tokenDialog.addEventListener('close', () => {
  const value = tokenDialog.querySelector('input').value.trim();
  if (tokenDialog.returnValue === 'save' && value) sessionStorage.setItem(TOKEN_KEY, value);
  else if (tokenDialog.returnValue === 'clear') sessionStorage.removeItem(TOKEN_KEY);
  else return;
  route();
});
byId('token-button').addEventListener('click', () =>
  askToken('The API may require a bearer token. It is kept for this browser tab only.'));

// ---- task list ----

const rows = new Map(); // task id → the row's live cells
let listCursor = null;

function filterValues(form) {
  const values = {};
  for (const [key, value] of new FormData(form)) if (String(value).trim()) values[key] = String(value).trim();
  return values;
}

function progressCell(progress) {
  const bar = el('progress', { max: '100', value: String(progress.percentage || 0) });
  bar.setAttribute('aria-label', 'progress ' + (progress.percentage || 0) + '%');
  return el('td', { class: 'progress' }, bar, ' ', progress.stage || '');
}

function taskRow(task) {
  const row = el('tr', {},
    el('td', {}, taskLink(task.task_id, task.topic || task.task_id)),
    el('td', {}, task.account_id),
    el('td', {}, statusBadge(task.status)),
    progressCell(task.progress || {}),
    el('td', {}, task.attempt + ' / ' + task.max_attempts),
    el('td', {}, time(task.created_at)));
  rows.set(task.task_id, { row, maxAttempts: task.max_attempts });
  return row;
}

function updateRow(event) {
  const entry = rows.get(event.task_id);
  if (!entry) return false;
  const cells = entry.row.cells;
  cells[2].replaceChildren(statusBadge(event.status));
  cells[3].replaceWith(progressCell(event.progress || {}));
  cells[4].textContent = event.attempt + ' / ' + entry.maxAttempts;
  return true;
}

async function loadTasks(append) {
  const filters = filterValues(byId('filters'));
  const query = new URLSearchParams(Object.assign({ limit: String(PAGE_SIZE) }, filters));
  if (append && listCursor) query.set('cursor', listCursor);
  const page = await api('/content/tasks?' + query);
  const body = byId('task-rows');
  if (!append) { body.replaceChildren(); rows.clear(); }
  for (const task of page.items) body.append(taskRow(task));
  listCursor = page.next_cursor;
  byId('more').hidden = !listCursor;
  byId('list-empty').hidden = rows.size > 0;
  return filters;
}

async function showList(gen) {
  const filters = await loadTasks(false);
  const params = filters.account_id ? { account_id: filters.account_id } : {};
  openStream(gen, '/content/events', params, async (event) => {
    if (updateRow(event) || (filters.status && filters.status !== event.status)) return;
    const task = await api('/content/tasks/' + encodeURIComponent(event.task_id));
    if (!rows.has(task.task_id)) byId('task-rows').prepend(taskRow(task));
    byId('list-empty').hidden = true;
  });
}

byId('filters').addEventListener('submit', (e) => { e.preventDefault(); route(); });
byId('more').addEventListener('click', () => loadTasks(true).catch((err) => showNotice(err.message)));

// ---- task page ----

let currentTask = null;
let refreshTimer = 0;

function field(list, name, value) {
  if (value === undefined || value === null || value === '') value = '—';
  list.append(el('dt', {}, name), el('dd', {}, value));
}

function renderTask(task) {
  currentTask = task;
  byId('task-title').textContent = task.topic || task.task_id;
  byId('cancel').disabled = !CANCELLABLE.includes(task.status);
  byId('retry').disabled = !RETRYABLE.includes(task.status);
  renderProgress(task.progress || {});

  const fields = byId('task-fields');
  fields.replaceChildren();
  field(fields, 'Task id', task.task_id);
  field(fields, 'Status', statusBadge(task.status));
  field(fields, 'Account', task.account_id);
  field(fields, 'Attempt', task.attempt + ' of ' + task.max_attempts);
  field(fields, 'Keywords', (task.keywords || []).join(', '));
  field(fields, 'Category', task.category);
  field(fields, 'Tone', task.tone);
  field(fields, 'Requirements', task.requirements);
  field(fields, 'Priority', task.priority);
  field(fields, 'Auto approve', task.auto_approve ? 'yes' : 'no');
  field(fields, 'Late result', task.late ? 'yes' : 'no');
  field(fields, 'Last error', task.last_error && el('span', { class: 'error' }, task.last_error.text));
  field(fields, 'Content', task.content_id);
  field(fields, 'Schedule', task.schedule_id && scheduleLink(task.schedule_id));
  field(fields, 'Run', task.run_id && el('code', {}, task.run_id));
  field(fields, 'External ref', task.external_ref);
  field(fields, 'Callback URL', task.callback_url && el('code', {}, task.callback_url));
  field(fields, 'Next attempt', task.next_attempt_at && time(task.next_attempt_at));
  if (HAS_DEADLINE.includes(task.status)) field(fields, 'Times out', time(task.timeout_at));
  field(fields, 'Created', time(task.created_at));
  field(fields, 'Submitted', time(task.submitted_at));
  field(fields, 'Started', time(task.started_at));
  field(fields, 'Completed', time(task.completed_at));
  field(fields, 'Updated', time(task.updated_at));

  const attempts = byId('attempts');
  attempts.replaceChildren();
  for (const a of (task.attempts || []).slice().reverse()) {
    attempts.append(el('li', {},
      el('strong', {}, 'Attempt ' + a.number + ' '), statusBadge(a.state),
      el('div', { class: 'muted' }, 'opened ', time(a.opened_at), ' · submitted ', time(a.submitted_at),
        ' · finished ', time(a.finished_at)),
      el('div', { class: 'muted' }, 'ref ', el('code', {}, a.external_ref || '—'),
        a.callback_url ? ' · callback ' : '', a.callback_url ? el('code', {}, a.callback_url) : ''),
      a.error ? el('p', { class: 'error' }, a.error.text) : null));
  }
  if (!attempts.children.length) attempts.append(el('li', { class: 'muted' }, 'Not submitted yet.'));
}

function renderProgress(progress) {
  byId('task-progress').value = progress.percentage || 0;
  byId('task-stage').textContent = (progress.percentage || 0) + '% ' +
    [progress.stage, progress.message].filter(Boolean).join(' — ');
}

function renderDeliveries(items) {
  byId('deliveries').replaceChildren(...items.map((d) => el('tr', {},
    el('td', {}, d.attempt), el('td', {}, d.event), el('td', { class: 'nowrap' }, d.scheme || '—'),
    el('td', {}, el('span', { class: 'outcome outcome-' + d.outcome }, d.outcome)),
    el('td', {}, d.reason || ''), el('td', {}, d.http_status || ''),
    el('td', {}, el('code', {}, d.delivery_id || '—')), el('td', {}, time(d.received_at)))));
  byId('deliveries-empty').hidden = items.length > 0;
}

let previewedContent = null;

async function renderContent(contentId) {
  const frame = byId('preview');
  byId('content-open').hidden = !contentId;
  if (!contentId) { byId('content-meta').textContent = 'No content yet.'; frame.hidden = true; return; }
  byId('content-link').href = '#/contents/' + encodeURIComponent(contentId);
  if (previewedContent === contentId) return;
  const [content, preview] = await Promise.all([
    api('/contents/' + encodeURIComponent(contentId)),
    api('/contents/' + encodeURIComponent(contentId) + '/preview'),
  ]);
  byId('content-meta').replaceChildren(el('strong', {}, content.title || 'Untitled'),
    ' · ' + content.word_count + ' words · review ' + content.review_status +
    (content.quality_score != null ? ' · quality ' + content.quality_score : '') + (content.late ? ' · late' : ''));
  frame.srcdoc = articleDocument(preview.html);
  frame.hidden = false;
  previewedContent = contentId;
}

// Frames grow to their article, so the page scrolls instead of the frame.
function fitFrame(e) {
  const doc = e.target.contentDocument;
  if (doc && doc.documentElement) e.target.style.height = doc.documentElement.scrollHeight + 'px';
}
byId('preview').addEventListener('load', fitFrame);
byId('article').addEventListener('load', fitFrame);

async function loadTask(id) {
  const [task, deliveries] = await Promise.all([
    api('/content/tasks/' + encodeURIComponent(id)),
    api('/content/tasks/' + encodeURIComponent(id) + '/deliveries'),
  ]);
  renderTask(task);
  renderDeliveries(deliveries.items);
  await renderContent(task.content_id);
}

async function showTask(gen, id) {
  currentTask = null;
  previewedContent = null;
  byId('preview').hidden = true;
  await loadTask(id);
  openStream(gen, '/content/tasks/' + encodeURIComponent(id) + '/events', {}, (event) => {
    renderProgress(event.progress || {});
    // The event carries a summary; re-read the task for attempts, errors and deliveries.
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => loadTask(id).catch((err) => showNotice(err.message)), 250);
  });
}

async function taskAction(action) {
  if (!currentTask) return;
  showNotice('');
  try {
    const task = await post('/content/tasks/' + encodeURIComponent(currentTask.task_id) + '/' + action);
    renderTask(task);
  } catch (err) {
    showNotice(action + ' failed: ' + err.message);
  }
}

byId('cancel').addEventListener('click', () => taskAction('cancel'));
byId('retry').addEventListener('click', () => taskAction('retry'));

// ---- publish pool ----

async function showPool() {
  const query = new URLSearchParams(filterValues(byId('pool-filters')));
  const page = await api('/publish-pool' + (query.toString() ? '?' + query : ''));
  byId('pool-rows').replaceChildren(...page.items.map((p) => el('tr', {},
    el('td', {}, articleLink(p.content_id, p.title || 'Untitled')), el('td', {}, p.account_id),
    el('td', {}, taskLink(p.task_id)), el('td', {}, p.priority), el('td', {}, statusBadge(p.status)),
    el('td', {}, time(p.scheduled_at)), el('td', {}, time(p.created_at)))));
  byId('pool-empty').hidden = page.items.length > 0;
}

// ---- article page ----

async function showContent(id) {
  const frame = byId('article');
  frame.srcdoc = '';
  byId('content-title').textContent = '';
  byId('content-info').replaceChildren();
  const [content, preview] = await Promise.all([
    api('/contents/' + encodeURIComponent(id)),
    api('/contents/' + encodeURIComponent(id) + '/preview'),
  ]);
  byId('content-title').textContent = content.title || 'Untitled';
  byId('content-info').replaceChildren('Account ' + content.account_id + ' · task ', taskLink(content.task_id),
    ' · ' + content.word_count + ' words · review ' + content.review_status +
    (content.quality_score != null ? ' · quality ' + content.quality_score : '') + ' · ', time(content.created_at));
  frame.srcdoc = articleDocument(preview.html);
}

byId('pool-filters').addEventListener('submit', (e) => { e.preventDefault(); route(); });

// ---- schedules ----

function scheduleLink(id, text) {
  return el('a', { href: '#/schedules/' + encodeURIComponent(id) }, text || id);
}

// zoned shows an instant on a given IANA zone's clock (the browser's when
// zone is undefined), with the zone's abbreviation.
function zoned(iso, zone) {
  if (!iso) return '—';
  let text;
  try {
    text = new Date(iso).toLocaleString(undefined, { timeZone: zone, timeZoneName: 'short' });
  } catch (_) {
    text = new Date(iso).toLocaleString();
  }
  return el('time', { datetime: iso, title: iso }, text);
}

function runSummary(run) {
  if (!run) return 'never';
  return el('span', {}, zoned(run.fire_time), ' · ' + run.trigger + ' · ', statusBadge(run.status),
    ' · ' + run.total_submitted + ' task' + (run.total_submitted === 1 ? '' : 's'));
}

function stateBadge(schedule) {
  return el('span', { class: 'status status-' + (schedule.enabled ? 'active' : 'paused') },
    schedule.enabled ? 'active' : 'paused');
}

async function setEnabled(schedule, enabled) {
  return api('/schedules/' + encodeURIComponent(schedule.schedule_id), {
    method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ enabled }),
  });
}

async function runNow(schedule) {
  const run = await post('/schedules/' + encodeURIComponent(schedule.schedule_id) + '/trigger');
  if (run.status === 'failed') showNotice('The run created no task: ' + (run.error || 'unknown reason'));
  return run;
}

// scheduleAction runs one button's action and reloads the view.
function scheduleAction(button, action) {
  button.addEventListener('click', async () => {
    showNotice('');
    button.disabled = true;
    let failure = '';
    try { await action(); } catch (err) { failure = err.message; }
    await route();
    button.disabled = false;
    if (failure) showNotice(failure);
  });
  return button;
}

async function showSchedules() {
  byId('browser-zone').textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local';
  const page = await api('/schedules');
  byId('schedule-rows').replaceChildren(...page.items.map((s) => el('tr', { 'data-schedule': s.schedule_id },
    el('td', {}, scheduleLink(s.schedule_id, s.name)),
    el('td', {}, el('code', {}, s.cron), el('div', { class: 'muted' }, s.timezone)),
    el('td', {}, zoned(s.next_run_at, s.timezone)),
    el('td', {}, zoned(s.next_run_at)),
    el('td', {}, runSummary(s.last_run)),
    el('td', {}, stateBadge(s)),
    el('td', { class: 'nowrap' },
      scheduleAction(el('button', { type: 'button', 'data-action': 'toggle' }, s.enabled ? 'Pause' : 'Resume'),
        () => setEnabled(s, !s.enabled)),
      ' ',
      scheduleAction(el('button', { type: 'button', 'data-action': 'run' }, 'Run now'), () => runNow(s))))));
  byId('schedules-empty').hidden = page.items.length > 0;
}

let currentSchedule = null;

async function showSchedule(id) {
  currentSchedule = null;
  const [schedule, runs] = await Promise.all([
    api('/schedules/' + encodeURIComponent(id)),
    api('/schedules/' + encodeURIComponent(id) + '/runs'),
  ]);
  currentSchedule = schedule;
  byId('schedule-title').textContent = schedule.name;
  byId('schedule-toggle').textContent = schedule.enabled ? 'Pause' : 'Resume';
  byId('schedule-state').replaceChildren(stateBadge(schedule));
  const fields = byId('schedule-fields');
  fields.replaceChildren();
  field(fields, 'Schedule id', schedule.schedule_id);
  field(fields, 'Cron', el('code', {}, schedule.cron));
  field(fields, 'Time zone', schedule.timezone);
  field(fields, 'Next run (schedule\'s zone)', zoned(schedule.next_run_at, schedule.timezone));
  field(fields, 'Next run (your time)', zoned(schedule.next_run_at));
  field(fields, 'Last run', runSummary(schedule.last_run));
  field(fields, 'Accounts', schedule.account_ids.join(', '));
  field(fields, 'Per account', schedule.count_per_account);
  field(fields, 'Topics', schedule.topics.length + ' (next: ' +
    (schedule.topics[schedule.topic_cursor] || schedule.topics[0]).topic + ')');
  field(fields, 'Priority', schedule.priority);
  field(fields, 'Misfire', schedule.misfire);
  byId('run-rows').replaceChildren(...runs.items.map((r) => el('tr', { 'data-run': r.run_id },
    el('td', {}, zoned(r.fire_time, schedule.timezone)),
    el('td', {}, r.trigger),
    el('td', {}, statusBadge(r.status), r.error ? el('div', { class: 'error' }, r.error) : null),
    el('td', {}, Object.entries(r.account_stats).map(([account, s]) => 'account ' + account + ': ' + s.submitted).join(', ') || '—'),
    el('td', {}, r.total_submitted),
    el('td', {}, ...r.task_ids.flatMap((t, i) => (i ? [' ', taskLink(t)] : [taskLink(t)]))))));
  byId('runs-empty').hidden = runs.items.length > 0;
}

scheduleAction(byId('schedule-toggle'), () => currentSchedule && setEnabled(currentSchedule, !currentSchedule.enabled));
scheduleAction(byId('schedule-run'), () => currentSchedule && runNow(currentSchedule));

// ---- new task ----

// idempotencyKey makes a double submit of the same form create one task.
let idempotencyKey = newKey();

function newKey() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return 'ui-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

byId('new-task').addEventListener('submit', async (e) => {
  e.preventDefault();
  const form = e.target;
  const v = filterValues(form);
  const body = {
    account_id: Number(v.account_id), topic: v.topic || '', keywords: v.keywords || '',
    category: v.category || '', tone: v.tone || '', requirements: v.requirements || '',
    auto_approve: form.elements.auto_approve.checked,
  };
  if (v.priority) body.priority = Number(v.priority);
  if (v.max_retries) body.max_retries = Number(v.max_retries);
  showNotice('');
  try {
    const task = await post('/content/tasks', body, { 'Idempotency-Key': idempotencyKey });
    idempotencyKey = newKey();
    form.reset();
    location.hash = '#/tasks/' + encodeURIComponent(task.task_id);
  } catch (err) {
    showNotice('Could not create the task: ' + err.message);
  }
});
byId('new-task').addEventListener('input', () => { idempotencyKey = newKey(); });

// ---- webhook endpoints (§13) ----

function attemptsCell(attempts) {
  if (!attempts.length) return '–';
  return el('ol', { class: 'attempts' }, ...attempts.map((a) => el('li', {},
    time(a.at), ' · ' + (a.status_code ? 'HTTP ' + a.status_code : 'no answer') +
    (a.error ? ' · ' + a.error : '') + ' · ' + Math.round(a.latency_ms) + ' ms')));
}

async function showWebhooks(id) {
  const page = await api('/webhook-endpoints');
  byId('endpoint-rows').replaceChildren(...page.items.map((e) => el('tr', {},
    el('td', {}, el('a', { href: '#/webhooks/' + encodeURIComponent(e.id) }, e.url)),
    el('td', {}, e.events.join(', ')), el('td', {}, e.account_id == null ? 'all' : String(e.account_id)),
    el('td', {}, e.enabled ? 'enabled' : 'disabled: ' + (e.disabled_reason || '')),
    el('td', {}, time(e.failing_since)), el('td', {}, time(e.created_at)))));
  byId('endpoints-empty').hidden = page.items.length > 0;
  byId('endpoint-log').hidden = !id;
  if (!id) return;
  const endpoint = await api('/webhook-endpoints/' + encodeURIComponent(id));
  byId('endpoint-log-title').textContent = 'Messages to ' + endpoint.url;
  const log = await api('/webhook-endpoints/' + encodeURIComponent(id) + '/messages');
  byId('message-rows').replaceChildren(...log.items.map((m) => {
    const replay = el('button', { type: 'button', 'data-message': m.id }, 'Replay');
    replay.addEventListener('click', async () => {
      try {
        await post('/webhook-endpoints/' + encodeURIComponent(id) + '/messages/' + encodeURIComponent(m.id) + '/replay');
        byId('replay-live').textContent = 'Replayed ' + m.id;
        await showWebhooks(id);
      } catch (err) {
        showNotice('Could not replay: ' + err.message);
      }
    });
    return el('tr', {}, el('td', {}, el('code', {}, m.id)), el('td', {}, m.event), el('td', {}, taskLink(m.subject)),
      el('td', {}, statusBadge(m.status)), el('td', {}, attemptsCell(m.attempts)),
      el('td', {}, time(m.next_attempt_at)), el('td', {}, replay));
  }));
  byId('messages-empty').hidden = log.items.length > 0;
}

// ---- routing ----

const views = ['list', 'task', 'pool', 'new', 'content', 'schedules', 'schedule', 'webhooks'];

async function route() {
  const gen = ++routeGen;
  closeStream();
  clearTimeout(refreshTimer);
  showNotice('');
  const hash = location.hash.replace(/^#/, '') || '/';
  const task = hash.match(/^\/tasks\/([^/]+)$/);
  const content = hash.match(/^\/contents\/([^/]+)$/);
  const schedule = hash.match(/^\/schedules\/([^/]+)$/);
  const hooks = hash.match(/^\/webhooks(?:\/([^/]+))?$/);
  const view = task ? 'task' : content ? 'content' : schedule ? 'schedule' : hooks ? 'webhooks'
    : { '/pool': 'pool', '/new': 'new', '/schedules': 'schedules' }[hash] || 'list';
  for (const name of views) byId('view-' + name).hidden = name !== view;
  try {
    if (view === 'list') await showList(gen);
    else if (view === 'task') await showTask(gen, decodeURIComponent(task[1]));
    else if (view === 'pool') await showPool();
    else if (view === 'content') await showContent(decodeURIComponent(content[1]));
    else if (view === 'schedules') await showSchedules();
    else if (view === 'schedule') await showSchedule(decodeURIComponent(schedule[1]));
    else if (view === 'webhooks') await showWebhooks(hooks[1] ? decodeURIComponent(hooks[1]) : '');
  } catch (err) {
    showNotice(err.status === 404 ? 'Not found.' : err.message);
  }
}

window.addEventListener('hashchange', route);
route();
