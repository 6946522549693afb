// ContentHub operator dashboard. Everything that comes from the API is put on
// the page as text through DOM APIs; the one exception is the article
// preview, which the server has already sanitised and which is shown in a
// sandboxed frame that cannot run scripts.
'use strict';

const API = '/api/v1';
const TOKEN_KEY = 'contenthub.token';
const PAGE_SIZE = 50;
const CANCELLABLE = ['pending', 'submitted', 'processing'];
// Only a task at work has a deadline and a live progress (an ended task's
// view carries neither, SERVICE.md §14).
const AT_WORK = ['pending', 'submitted', 'processing'];
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

// Chinese text is marked as such, so that screen readers read it as
// Chinese and the browser draws it with Chinese glyphs; the dashboard's own
// words are English (the page's lang).
const HAN = /[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]/;

function langOf(text) {
  return HAN.test(String(text || '')) ? 'zh-CN' : null;
}

// text is a span of content (a topic, a stage, a title) in its language.
function text(value, attrs) {
  const s = value === undefined || value === null ? '' : String(value);
  return el('span', Object.assign({ lang: langOf(s) }, attrs || {}), s);
}

// setText puts content into an existing element, marking its language.
function setText(node, value) {
  node.textContent = value;
  const lang = langOf(value);
  if (lang) node.setAttribute('lang', lang);
  else node.removeAttribute('lang');
}

function time(iso) {
  if (!iso) return '—';
  return el('time', { datetime: iso, title: iso }, new Date(iso).toLocaleString());
}

function statusBadge(status) {
  return el('span', { class: 'status status-' + status }, status);
}

// Links to ids never break inside the id.
function taskLink(id, label) {
  return el('a', { href: '#/tasks/' + encodeURIComponent(id), class: label ? null : 'id', lang: langOf(label) }, label || id);
}

function articleLink(id, label) {
  return el('a', { href: '#/contents/' + encodeURIComponent(id), lang: langOf(label) }, label || id);
}

// articleDocument wraps HTML that the server rendered and sanitised; the
// frames that show it are sandboxed without allow-scripts and inherit the
// page's CSP, so it stays inert all the same.
// lang is the article's language ('zh-CN' for Chinese), or '' when unknown.
function articleDocument(html, lang) {
  return '<!doctype html><html' + (lang ? ' lang="' + lang + '"' : '') + '><head><meta charset="utf-8">' +
    '<title>Article</title><link rel="stylesheet" href="preview.css"></head><body>' + html + '</body></html>';
}

// frameLang is the language of an article frame: its content's.
function frameLang(content) {
  return langOf((content.title || '') + (content.summary || '')) || '';
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

function progressCell(progress, status) {
  if (!AT_WORK.includes(status)) return el('td', { class: 'progress' }, status === 'completed' ? '100%' : '—');
  const bar = el('progress', { max: '100', value: String(progress.percentage || 0) });
  bar.setAttribute('aria-label', 'progress ' + (progress.percentage || 0) + '%');
  return el('td', { class: 'progress' }, bar, ' ', text(progress.stage || ''));
}

// waitingText says why a due task waits (§11), or nothing.
const WAITING = {
  account_concurrency: 'its account\'s max concurrency',
  account_rate_limited: 'its account\'s hourly limit',
  creator_unavailable: 'content-creator (unavailable)',
  capacity: 'a free slot (all busy)',
};

function waitingText(reason, notBefore) {
  if (!reason) return '';
  const text = WAITING[reason] || reason;
  return notBefore ? text + ' until ' + new Date(notBefore).toLocaleString() : text;
}

function waitingCell(item) {
  return el('td', { class: 'waiting', 'data-waiting': item.waiting_reason || '' },
    waitingText(item.waiting_reason, item.not_before));
}

function taskRow(task) {
  const row = el('tr', {},
    el('td', {}, taskLink(task.task_id, task.topic || null)),
    el('td', {}, task.account_id),
    el('td', {}, statusBadge(task.status)),
    progressCell(task.progress || {}, task.status),
    el('td', {}, task.attempt + ' / ' + task.max_attempts),
    waitingCell(task),
    el('td', {}, time(task.created_at)));
  rows.set(task.task_id, { row, maxAttempts: task.max_attempts });
  return row;
}

function updateRow(event) {
  const entry = rows.get(event.task_id);
  if (!entry) return false;
  const cells = entry.row.cells;
  cells[2].replaceChildren(statusBadge(event.status));
  cells[3].replaceWith(progressCell(event.progress || {}, event.status));
  cells[4].textContent = event.attempt + ' / ' + entry.maxAttempts;
  cells[5].replaceWith(waitingCell(event));
  return true;
}

const STATUSES = ['pending', 'submitted', 'processing', 'completed', 'failed', 'timeout', 'cancelled'];

// renderCounts shows a total and the count per status; each count links to
// the list filtered by it, so failed and running tasks are one click away.
function renderCounts(node, counts, label, hrefOf) {
  const parts = [el('strong', {}, label)];
  for (const [status, n] of Object.entries(counts || {})) {
    parts.push(' · ', el('a', { href: hrefOf(status) }, statusBadge(status), ' ' + n));
  }
  node.replaceChildren(...parts);
}

function orderedCounts(counts, order) {
  const out = {};
  for (const status of order) if (counts && status in counts) out[status] = counts[status];
  return out;
}

function renderTaskCounts(page) {
  if (page.counts === undefined) return;
  renderCounts(byId('list-counts'), orderedCounts(page.counts, STATUSES),
    page.total + (page.total === 1 ? ' task' : ' tasks'), (status) => '#/?status=' + encodeURIComponent(status));
}

let countsTimer = 0;

// refreshCounts re-reads the totals after live changes, at most once a second.
function refreshCounts() {
  clearTimeout(countsTimer);
  countsTimer = setTimeout(() => {
    const filters = filterValues(byId('filters'));
    const query = new URLSearchParams(Object.assign({ limit: '1' }, filters));
    api('/content/tasks?' + query).then(renderTaskCounts).catch(() => {});
  }, 1000);
}

async function loadTasks(append) {
  const filters = filterValues(byId('filters'));
  const query = new URLSearchParams(Object.assign({ limit: String(PAGE_SIZE) }, filters));
  if (append && listCursor) query.set('cursor', listCursor);
  const page = await api('/content/tasks?' + query);
  renderTaskCounts(page);
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
  reveal(gen, 'list');
  const params = filters.account_id ? { account_id: filters.account_id } : {};
  openStream(gen, '/content/events', params, async (event) => {
    refreshCounts();
    if (updateRow(event) || (filters.status && filters.status !== event.status)) return;
    const task = await api('/content/tasks/' + encodeURIComponent(event.task_id));
    if (!rows.has(task.task_id)) byId('task-rows').prepend(taskRow(task));
    byId('list-empty').hidden = true;
  });
}

// submitFilters makes a form's filters the page's address, so links and
// reloads keep them.
function submitFilters(form, base, always) {
  const query = new URLSearchParams(filterValues(form));
  for (const name of always || []) query.set(name, form.elements[name].value);
  const target = base + (query.toString() ? '?' + query : '');
  if (location.hash === target) route();
  else location.hash = target;
}

byId('filters').addEventListener('submit', (e) => { e.preventDefault(); submitFilters(e.target, '#/'); });
byId('more').addEventListener('click', () => loadTasks(true).catch((err) => showNotice(err.message)));

// ---- task page ----

let currentTask = null;
let currentDeliveries = []; // the shown task's delivery log, as last read
let refreshTimer = 0;

function field(list, name, value) {
  if (value === undefined || value === null || value === '') value = '—';
  list.append(el('dt', {}, name), el('dd', {}, value));
}

function renderTask(task) {
  currentTask = task;
  setText(byId('task-title'), task.topic || task.task_id);
  byId('cancel').disabled = !CANCELLABLE.includes(task.status);
  byId('retry').disabled = !RETRYABLE.includes(task.status);
  renderProgress(task.progress || {}, task.status);

  const fields = byId('task-fields');
  fields.replaceChildren();
  field(fields, 'Task id', task.task_id);
  field(fields, 'Status', statusBadge(task.status));
  field(fields, 'Account', task.account_id);
  field(fields, 'Attempt', task.attempt + ' of ' + task.max_attempts);
  field(fields, 'Waiting on', task.waiting_reason &&
    el('span', { 'data-waiting': task.waiting_reason }, waitingText(task.waiting_reason, task.not_before)));
  field(fields, 'Keywords', text((task.keywords || []).join(', ')));
  field(fields, 'Category', text(task.category));
  field(fields, 'Tone', text(task.tone));
  field(fields, 'Requirements', text(task.requirements));
  field(fields, 'Priority', task.priority);
  field(fields, 'Auto approve', task.auto_approve ? 'yes' : 'no');
  field(fields, 'Late result', task.late ? 'yes' : 'no');
  field(fields, 'Last error', task.last_error && text(task.last_error.text, { class: 'error' }));
  field(fields, 'Content', task.content_id);
  field(fields, 'Schedule', task.schedule_id && scheduleLink(task.schedule_id));
  field(fields, 'Run', task.run_id && el('code', {}, task.run_id));
  field(fields, 'External ref', task.external_ref);
  field(fields, 'Callback URL', task.callback_url && el('code', {}, task.callback_url));
  field(fields, 'Next attempt', task.next_attempt_at && time(task.next_attempt_at));
  if (AT_WORK.includes(task.status)) field(fields, 'Times out', time(task.timeout_at));
  field(fields, 'Created', time(task.created_at));
  field(fields, 'Submitted', time(task.submitted_at));
  field(fields, 'Started', time(task.started_at));
  field(fields, 'Completed', time(task.completed_at));
  field(fields, 'Updated', time(task.updated_at));
  // A cancel or retry answers with the task alone: its new attempt joins the
  // deliveries last read.
  renderTimeline(task, currentDeliveries);
}

function renderProgress(progress, status) {
  const atWork = AT_WORK.includes(status);
  byId('task-progress').hidden = !atWork;
  byId('task-stage').hidden = !atWork;
  if (!atWork) return;
  byId('task-progress').value = progress.percentage || 0;
  byId('task-stage').replaceChildren((progress.percentage || 0) + '% ',
    text([progress.stage, progress.message].filter(Boolean).join(' — ')));
}

// ---- the task's timeline: attempts and callback deliveries in one order ----

// shortId shortens a delivery id ("sha256:…" or "wh:…") to its kind and 8
// characters; the element that shows it carries the full id as its title.
function shortId(id) {
  const colon = id.indexOf(':');
  const kind = colon >= 0 ? id.slice(0, colon + 1) : '';
  const rest = id.slice(kind.length);
  return rest.length > 8 ? kind + rest.slice(0, 8) + '…' : id;
}

function deliveryId(id) {
  if (!id) return el('span', { class: 'muted' }, 'no delivery id');
  return el('code', { class: 'delivery-id', title: id, 'data-delivery-id': id }, shortId(id));
}

// outcomeBadge says what became of a delivery. An applied "failed" callback
// ended its attempt: it is marked apart from an applied completion (a
// success) and from applied progress, in words as well as in colour.
function outcomeBadge(d) {
  let label = d.outcome;
  let kind = d.outcome;
  if (d.outcome === 'applied' && d.event === 'failed') { label = 'applied failure'; kind = 'applied-failure'; }
  else if (d.outcome === 'applied' && d.event === 'progress') kind = 'applied-progress';
  return el('span', { class: 'outcome outcome-' + kind, 'data-outcome': kind }, label);
}

function errorLine(error) {
  return el('p', { class: 'error' }, error.code ? el('code', {}, error.code) : null, error.code ? ' ' : null,
    text(error.message || error.text));
}

// instant is a timeline entry's time to the millisecond: callbacks of one
// attempt often arrive within the same second.
function instant(iso) {
  let shown;
  try {
    shown = new Date(iso).toLocaleString(undefined, { year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: '2-digit', second: '2-digit', fractionalSecondDigits: 3 });
  } catch (_) {
    shown = new Date(iso).toLocaleString();
  }
  return el('time', { datetime: iso, title: iso }, shown);
}

function attemptOpened(a) {
  // An ended attempt's state is on its end; an open one's is here.
  return el('li', { class: 'entry-attempt', 'data-kind': 'attempt', 'data-attempt': a.number },
    el('div', { class: 'entry-head' }, instant(a.opened_at), ' ', el('strong', {}, 'Attempt ' + a.number + ' opened'),
      a.finished_at ? null : ' ', a.finished_at ? null : statusBadge(a.state)),
    el('div', { class: 'muted' }, 'opened ', time(a.opened_at), ' · submitted ', time(a.submitted_at),
      ' · ended ', time(a.finished_at)),
    el('div', { class: 'muted' }, 'ref ', el('code', {}, a.external_ref || '—'),
      a.callback_url ? ' · callback ' : '', a.callback_url ? el('code', {}, a.callback_url) : ''));
}

function attemptEnded(a) {
  return el('li', { class: 'entry-end entry-end-' + a.state, 'data-kind': 'attempt-end', 'data-attempt': a.number },
    el('div', { class: 'entry-head' }, instant(a.finished_at), ' ', el('strong', {}, 'Attempt ' + a.number + ' ended'),
      ' ', statusBadge(a.state)),
    a.error ? errorLine(a.error) : null);
}

function deliveryEntry(d) {
  const what = d.event ? 'Callback “' + d.event + '”' : 'Refused request';
  return el('li', { class: 'entry-delivery', 'data-kind': 'delivery', 'data-attempt': d.attempt || '' },
    el('div', { class: 'entry-head' }, instant(d.received_at), ' ', el('strong', {}, what),
      d.attempt ? ' · attempt ' + d.attempt : '', ' ', outcomeBadge(d)),
    el('div', { class: 'muted' }, deliveryId(d.delivery_id), ' · ' + (d.scheme || 'no scheme') +
      (d.http_status ? ' · HTTP ' + d.http_status : '') + (d.request_id ? ' · request ' : ''),
    d.request_id ? el('code', {}, d.request_id) : null),
    d.reason ? el('div', { class: 'muted' }, 'why: ', text(d.reason)) : null);
}

// timelineEntries merges the attempts (opened, then ended) with the
// deliveries by time. At the same instant an attempt opens before its
// callbacks, and the callback that ended it comes before its end.
function timelineEntries(attempts, deliveries) {
  const entries = [];
  const add = (iso, rank, attempt, node) => entries.push({ at: Date.parse(iso), rank, attempt, seq: entries.length, node });
  for (const a of attempts) {
    add(a.opened_at, 0, a.number, attemptOpened(a));
    if (a.finished_at) add(a.finished_at, 2, a.number, attemptEnded(a));
  }
  for (const d of deliveries) add(d.received_at, 1, d.attempt, deliveryEntry(d));
  entries.sort((x, y) => (x.at - y.at) || (x.rank - y.rank) || (x.attempt - y.attempt) || (x.seq - y.seq));
  return entries.map((e) => e.node);
}

function renderTimeline(task, deliveries) {
  const entries = timelineEntries(task.attempts || [], deliveries);
  byId('timeline').replaceChildren(...(entries.length ? entries :
    [el('li', { class: 'muted' }, 'Not submitted yet.')]));
}

let previewedContent = null;

// reviewState is a content's review, as a line of the page: its status, who
// moved it when, its pool entry, and where to act on it.
function reviewState(content, entry) {
  const parts = [el('strong', {}, 'Review: '), el('span', { class: 'review review-' + content.review_status },
    content.review_status.replace('_', ' '))];
  if (content.reviewer) parts.push(' by ', text(content.reviewer));
  if (content.reviewed_at) parts.push(' · ', time(content.reviewed_at));
  if (content.review_note) parts.push(' · ', text('“' + content.review_note + '”'));
  if (content.review_status === 'pending_review') {
    parts.push(' · ', el('a', { href: '#/review' }, 'approve or reject it in the review queue'));
  }
  if (entry) {
    parts.push(' · publish pool: ', statusBadge(entry.status));
    if (entry.url) parts.push(' ', el('a', { href: entry.url, rel: 'noreferrer', target: '_blank' }, 'published article'));
  }
  return parts;
}

async function loadReview(content) {
  const entry = content.pool_entry_id
    ? await api('/publish-pool/' + encodeURIComponent(content.pool_entry_id)).catch(() => null) : null;
  return reviewState(content, entry);
}

async function renderContent(contentId) {
  const frame = byId('preview');
  byId('content-open').hidden = !contentId;
  byId('task-review').hidden = !contentId;
  if (!contentId) { byId('content-meta').textContent = 'No content yet.'; frame.hidden = true; return; }
  byId('content-link').href = '#/contents/' + encodeURIComponent(contentId);
  const [content, preview] = await Promise.all([
    api('/contents/' + encodeURIComponent(contentId)),
    previewedContent === contentId ? null : api('/contents/' + encodeURIComponent(contentId) + '/preview'),
  ]);
  byId('task-review').replaceChildren(...await loadReview(content));
  byId('content-meta').replaceChildren(el('strong', { lang: langOf(content.title) }, content.title || 'Untitled'),
    ' · ' + content.word_count + ' words' +
    (content.quality_score != null ? ' · quality ' + content.quality_score : '') + (content.late ? ' · late' : ''));
  if (!preview) return;
  const lang = frameLang(content);
  frame.srcdoc = articleDocument(preview.html, lang);
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
  currentDeliveries = deliveries.items;
  renderTask(task);
  await renderContent(task.content_id);
}

async function showTask(gen, id) {
  currentTask = null;
  currentDeliveries = [];
  previewedContent = null;
  byId('preview').hidden = true;
  await loadTask(id);
  reveal(gen, 'task');
  openStream(gen, '/content/tasks/' + encodeURIComponent(id) + '/events', {}, (event) => {
    renderProgress(event.progress || {}, event.status);
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

const POOL_STATUSES = ['pending', 'claimed', 'published', 'failed'];

// claimState says who may publish an entry now: its lease, its retries, its
// last error.
function claimState(p) {
  if (p.status === 'claimed') return el('span', {}, 'leased until ', time(p.lease_expires_at));
  if (p.status === 'published') return el('span', {}, 'published ', time(p.published_at),
    p.url ? ' · ' : '', p.url ? el('a', { href: p.url, rel: 'noreferrer', target: '_blank' }, 'link') : '');
  if (p.status === 'pending' && p.available_at && p.available_at !== p.scheduled_at) {
    return el('span', {}, 'claimable from ', time(p.available_at));
  }
  return el('span', { class: 'muted' }, p.status === 'failed' ? 'given up' : 'waiting for a publisher');
}

async function showPool(gen) {
  const query = new URLSearchParams(filterValues(byId('pool-filters')));
  const page = await api('/publish-pool' + (query.toString() ? '?' + query : ''));
  renderCounts(byId('pool-counts'), orderedCounts(page.counts, POOL_STATUSES),
    page.total + (page.total === 1 ? ' entry' : ' entries'), (status) => '#/pool?status=' + encodeURIComponent(status));
  byId('pool-rows').replaceChildren(...page.items.map((p) => el('tr', {},
    el('td', {}, articleLink(p.content_id, p.title || 'Untitled')), el('td', {}, p.account_id),
    el('td', { class: 'nowrap' }, taskLink(p.task_id)), el('td', {}, p.priority), el('td', {}, statusBadge(p.status)),
    el('td', {}, claimState(p)), el('td', {}, time(p.scheduled_at)),
    el('td', {}, p.retry_count + ' / ' + p.max_retries,
      p.last_error ? el('div', { class: 'error', lang: langOf(p.last_error) }, p.last_error) : null))));
  byId('pool-empty').hidden = page.items.length > 0;
  reveal(gen, 'pool');
}

// ---- article page ----

async function showContent(gen, id) {
  const frame = byId('article');
  frame.srcdoc = '';
  const [content, preview] = await Promise.all([
    api('/contents/' + encodeURIComponent(id)),
    api('/contents/' + encodeURIComponent(id) + '/preview'),
  ]);
  setText(byId('content-title'), content.title || 'Untitled');
  byId('content-review').replaceChildren(...await loadReview(content));
  byId('content-info').replaceChildren('Account ' + content.account_id + ' · task ', taskLink(content.task_id),
    ' · ' + content.word_count + ' words' +
    (content.quality_score != null ? ' · quality ' + content.quality_score : '') + ' · ', time(content.created_at));
  const lang = frameLang(content);
  frame.srcdoc = articleDocument(preview.html, lang);
  reveal(gen, 'content');
}

// ---- review queue ----

let reviewCursor = null;

// reviewItem is one content of the queue: what it is, its preview on
// demand (a sandboxed frame like the others), and the moves.
function reviewItem(content) {
  const id = content.content_id;
  const frame = el('iframe', { title: 'Preview of ' + (content.title || id),
    sandbox: 'allow-same-origin allow-popups allow-popups-to-escape-sandbox', class: 'queue-frame' });
  frame.addEventListener('load', fitFrame);
  const details = el('details', {}, el('summary', {}, 'Preview'), frame);
  details.addEventListener('toggle', async () => {
    if (!details.open || frame.dataset.loaded) return;
    frame.dataset.loaded = '1';
    try {
      const preview = await api('/contents/' + encodeURIComponent(id) + '/preview');
      const lang = frameLang(content);
      frame.srcdoc = articleDocument(preview.html, lang);
    } catch (err) {
      showNotice('Could not load the preview: ' + err.message);
    }
  });
  const state = el('p', { class: 'review-state' }, ...reviewState(content, null));
  const item = el('li', { class: 'queue-item', 'data-content': id },
    el('h2', {}, articleLink(id, content.title || 'Untitled')),
    el('p', { class: 'muted' }, 'Account ' + content.account_id + ' · task ', taskLink(content.task_id),
      ' · ' + content.word_count + ' words · ', time(content.created_at)),
    el('p', { lang: langOf(content.summary) }, content.summary || ''),
    state, details);
  if (content.review_status === 'pending_review') item.append(reviewActions(content, item, state));
  return item;
}

function reviewActions(content, item, state) {
  const id = content.content_id;
  const reason = el('textarea', { name: 'reason', rows: '2', maxlength: '1000', required: '' });
  const form = el('form', { class: 'review-actions' },
    el('button', { type: 'button', 'data-action': 'approve' }, 'Approve'),
    el('label', {}, 'Reason for rejecting ', reason),
    el('button', { type: 'submit', 'data-action': 'reject' }, 'Reject'));
  const move = async (action, body) => {
    showNotice('');
    try {
      const moved = await post('/contents/' + encodeURIComponent(id) + '/' + action, body);
      state.replaceChildren(...reviewState(moved, null));
      form.remove();
      item.classList.add('reviewed');
    } catch (err) {
      showNotice(action + ' failed: ' + err.message);
    }
  };
  form.querySelector('[data-action=approve]').addEventListener('click', () => move('approve', {}));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    move('reject', { reason: reason.value });
  });
  return form;
}

async function loadReviewQueue(append) {
  const filters = filterValues(byId('review-filters'));
  const statusSelect = byId('review-filters').elements.review_status;
  const query = new URLSearchParams(Object.assign({ limit: '20' }, filters));
  if (!statusSelect.value) query.delete('review_status');
  else query.set('review_status', statusSelect.value);
  if (append && reviewCursor) query.set('cursor', reviewCursor);
  const page = await api('/contents?' + query);
  const list = byId('review-items');
  if (!append) list.replaceChildren();
  for (const content of page.items) list.append(reviewItem(content));
  reviewCursor = page.next_cursor;
  byId('review-more').hidden = !reviewCursor;
  byId('review-empty').hidden = list.children.length > 0;
}

async function showReview(gen) {
  await loadReviewQueue(false);
  reveal(gen, 'review');
}

byId('review-filters').addEventListener('submit', (e) => {
  e.preventDefault();
  submitFilters(e.target, '#/review', ['review_status']);
});
byId('review-more').addEventListener('click', () => loadReviewQueue(true).catch((err) => showNotice(err.message)));

byId('pool-filters').addEventListener('submit', (e) => { e.preventDefault(); submitFilters(e.target, '#/pool'); });

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

// ---- accounts ----

async function showAccounts() {
  const page = await api('/accounts');
  byId('account-rows').replaceChildren(...page.items.map((a) => el('tr', { 'data-account': a.account_id },
    el('td', {}, a.account_id),
    el('td', {}, a.limits.max_concurrency || 'fair share'), el('td', {}, a.limits.max_tasks_per_hour || 'none'),
    el('td', {}, a.limits.weight), el('td', {}, a.limits_source === 'account' ? 'own' : 'defaults'),
    el('td', {}, a.counts.pending), el('td', {}, a.counts.running), el('td', {}, a.opened_last_hour),
    el('td', {}, a.counts.completed_24h), el('td', {}, a.counts.failed_24h), waitingCell(a))));
  byId('accounts-empty').hidden = page.items.length > 0;
}

byId('account-rows').addEventListener('click', (e) => {
  const row = e.target.closest('tr[data-account]');
  if (!row || e.target.closest('a')) return;
  const form = byId('limits-form');
  form.elements.account_id.value = row.dataset.account;
});

byId('limits-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const v = filterValues(e.target);
  showNotice('');
  try {
    await api('/accounts/' + encodeURIComponent(v.account_id || '') + '/limits', {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ max_concurrency: Number(v.max_concurrency || 0),
        max_tasks_per_hour: Number(v.max_tasks_per_hour || 0), weight: Number(v.weight || 1) }),
    });
    await showAccounts();
  } catch (err) {
    showNotice('Could not save the limits: ' + err.message);
  }
});

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
  // Messages are sent in the background (a replay, a retry): the log is
  // read again while it is on screen, so new attempts show up by themselves.
  clearTimeout(refreshTimer);
  const shown = location.hash;
  refreshTimer = setTimeout(() => {
    if (location.hash === shown) showWebhooks(id).catch((err) => showNotice(err.message));
  }, 2000);
}

// ---- routing ----

const views = ['list', 'task', 'review', 'pool', 'new', 'content', 'schedules', 'schedule', 'webhooks', 'missing', 'accounts'];

// reveal shows a view once its data is on it: a page never shows an empty
// skeleton that fills in and shifts, nor a stale view's data.
function reveal(gen, view) {
  if (gen !== routeGen) return;
  for (const name of views) byId('view-' + name).hidden = name !== view;
}

// applyQuery puts a link's filters (#/?status=failed) into a view's form.
function applyQuery(form, query) {
  if (!form || !query) return;
  for (const [key, value] of new URLSearchParams(query)) {
    if (form.elements[key]) form.elements[key].value = value;
  }
}

async function route() {
  const gen = ++routeGen;
  closeStream();
  clearTimeout(refreshTimer);
  showNotice('');
  const [path, query] = (location.hash.replace(/^#/, '') || '/').split('?');
  const task = path.match(/^\/tasks\/([^/]+)$/);
  const content = path.match(/^\/contents\/([^/]+)$/);
  const schedule = path.match(/^\/schedules\/([^/]+)$/);
  const hooks = path.match(/^\/webhooks(?:\/([^/]+))?$/);
  const view = task ? 'task' : content ? 'content' : schedule ? 'schedule' : hooks ? 'webhooks' :
    { '/pool': 'pool', '/new': 'new', '/review': 'review', '/schedules': 'schedules', '/accounts': 'accounts' }[path] || 'list';
  // Until the view's data is loaded nothing is shown, and on failure only
  // the message.
  for (const name of views) byId('view-' + name).hidden = true;
  applyQuery({ list: byId('filters'), pool: byId('pool-filters'), review: byId('review-filters') }[view], query);
  try {
    if (view === 'list') await showList(gen);
    else if (view === 'task') await showTask(gen, decodeURIComponent(task[1]));
    else if (view === 'review') await showReview(gen);
    else if (view === 'pool') await showPool(gen);
    else if (view === 'content') await showContent(gen, decodeURIComponent(content[1]));
    else if (view === 'schedules') { await showSchedules(); reveal(gen, view); }
    else if (view === 'schedule') { await showSchedule(decodeURIComponent(schedule[1])); reveal(gen, view); }
    else if (view === 'webhooks') { await showWebhooks(hooks[1] ? decodeURIComponent(hooks[1]) : ''); reveal(gen, view); }
    else if (view === 'accounts') { await showAccounts(); reveal(gen, view); }
    else reveal(gen, view);
  } catch (err) {
    if (gen !== routeGen) return;
    if (err.status !== 404) { showNotice(err.message); return; }
    // An unknown id: the message, and nothing of the page it is not.
    const what = { task: 'task', content: 'article' }[view] || 'page';
    byId('missing-text').textContent = 'There is no ' + what + ' with this id.';
    reveal(gen, 'missing');
  }
}

// ---- content-creator's health (§14) ----

// watchCreator polls the open health route and shows a banner while the
// circuit breaker is open: tasks are waiting, not failing.
const CREATOR_POLL_MS = 5000;
async function watchCreator() {
  const banner = byId('creator-banner');
  try {
    const res = await fetch(API + '/content/health', { headers: { Accept: 'application/json' } });
    const body = res.ok ? await res.json() : null;
    const creator = body && body.creator;
    if (creator && creator.status === 'down') {
      banner.textContent = 'content-creator is unavailable' +
        (creator.since ? ' since ' + new Date(creator.since).toLocaleString() : '') +
        ': due tasks wait (no retry is spent) and dispatch resumes when it answers again.' +
        (creator.last_error ? ' Last error: ' + creator.last_error : '');
      banner.hidden = false;
    } else {
      banner.hidden = true;
    }
  } catch (err) {
    // The service itself is unreachable: the views say so.
  }
  setTimeout(watchCreator, CREATOR_POLL_MS);
}

window.addEventListener('hashchange', route);
route();
watchCreator();
