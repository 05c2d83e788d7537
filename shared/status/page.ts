// The status page (GET /api/status/page): the status report (report.ts) as one self-contained HTML document for an
// operator's browser. Server-rendered, so every table works without JavaScript, and the page has none; no external
// script, style, font or image (the Content-Security-Policy allows only the inline style below, by its hash).
// Accessibility (WCAG 2.2 AA): a skip link and in-page navigation for keyboard users, one h1 and an h2 per section,
// tables with captions and header cells, states written as words (colour only repeats them), text contrast of at
// least 4.5:1, a visible focus outline, and scrollable tables reachable by keyboard.
// https://www.w3.org/WAI/WCAG22/quickref/
import { createHash } from 'node:crypto';
import type { Explanation } from './explain.js';
import type { BreakerHoldStatus, DecisionStatus, MailboxStatus, StatusReport } from './report.js';

const style = `
:root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1f2328; background: #ffffff; }
body { margin: 0; line-height: 1.45; }
a { color: #0a58ca; }
a:focus-visible, [tabindex]:focus-visible, input:focus-visible, button:focus-visible { outline: 3px solid #0a58ca; outline-offset: 2px; }
.skip { position: absolute; left: 0.5rem; top: -3rem; background: #ffffff; padding: 0.5rem 0.75rem; border: 2px solid #0a58ca; }
.skip:focus { top: 0.5rem; }
header, main, footer { padding: 0 1.25rem; max-width: 90rem; }
header { border-bottom: 1px solid #d0d7de; padding-bottom: 0.5rem; }
h1 { font-size: 1.5rem; margin: 1rem 0 0.25rem; }
h2 { font-size: 1.2rem; margin: 1.75rem 0 0.5rem; }
.summary { display: flex; flex-wrap: wrap; gap: 0.5rem 2rem; margin: 0.5rem 0; padding: 0; list-style: none; }
nav ul { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; padding: 0; margin: 0.5rem 0; list-style: none; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: 0.9rem; min-width: 40rem; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th, td { border: 1px solid #d0d7de; padding: 0.35rem 0.5rem; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; }
tbody th { font-weight: 600; }
code { font-family: ui-monospace, "Cascadia Mono", Consolas, monospace; font-size: 0.85rem; overflow-wrap: anywhere; }
.muted { color: #57606a; }
.badge { display: inline-block; padding: 0 0.4rem; border-radius: 0.25rem; font-weight: 600; border: 1px solid currentColor; }
.ok { color: #0a3622; background: #d1e7dd; }
.attention { color: #58151c; background: #f8d7da; }
.warning { color: #523e02; background: #fff3cd; }
.neutral { color: #1f2328; background: #eaeef2; }
.none { margin: 0.25rem 0; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 0.25rem 1rem; margin: 0.5rem 0; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
footer { margin: 2rem 0 1rem; border-top: 1px solid #d0d7de; padding-top: 0.5rem; }
`;

const styleHash = createHash('sha256').update(style).digest('base64');

/** Headers of the page: no script at all, nothing from elsewhere, not framed, not cached, no Referer with the key. */
export const statusPageHeaders: Readonly<Record<string, string>> = {
  'content-type': 'text/html; charset=utf-8',
  'content-security-policy': `default-src 'none'; style-src 'sha256-${styleHash}'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'`,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'x-frame-options': 'DENY',
};

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
/** Every value of the report goes through this: ids, codes and reasons are data, never markup. */
function esc(value: string | number | undefined): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => escapes[c]!);
}

/** "5 min ago", "in 3 h": relative to when the report was made, so the page reads the same at any later moment. */
function relative(t: number, now: number): string {
  const minutes = Math.round((t - now) / 60_000);
  const size = Math.abs(minutes);
  if (size === 0) return 'just now';
  const amount = size < 120 ? `${size} min` : size < 72 * 60 ? `${Math.round(size / 60)} h` : `${Math.round(size / 1440)} days`;
  return minutes < 0 ? `${amount} ago` : `in ${amount}`;
}

function time(at: string | undefined, now: number, none = 'never'): string {
  if (!at) return `<span class="muted">${esc(none)}</span>`;
  const t = Date.parse(at);
  if (Number.isNaN(t)) return esc(at);
  const shown = new Date(t).toISOString().replace('T', ' ').slice(0, 16);
  return `<time datetime="${esc(new Date(t).toISOString())}">${esc(shown)} UTC</time> <span class="muted">(${esc(relative(t, now))})</span>`;
}

function badge(text: string, tone: 'ok' | 'attention' | 'warning' | 'neutral'): string {
  return `<span class="badge ${tone}">${esc(text)}</span>`;
}

/** Mailbox states that need a person are the ones the "mailbox needs attention" alert fires on (shared/telemetry). */
function stateTone(state: string): 'ok' | 'attention' | 'warning' | 'neutral' {
  if (state === 'active') return 'ok';
  if (state === 'backfilling') return 'warning';
  if (state === 'disabled') return 'neutral';
  return 'attention';
}

function table(id: string, caption: string, head: string[], rows: string[][]): string {
  // A scrollable region with a name and a tab stop, so a keyboard user can scroll a wide table too.
  return `<div class="scroll" role="region" aria-labelledby="${id}-caption" tabindex="0">
<table id="${id}">
<caption id="${id}-caption">${esc(caption)}</caption>
<thead><tr>${head.map((h) => `<th scope="col">${esc(h)}</th>`).join('')}</tr></thead>
<tbody>
${rows.map((cells) => `<tr>${cells.map((c, i) => (i === 0 ? `<th scope="row">${c}</th>` : `<td>${c}</td>`)).join('')}</tr>`).join('\n')}
</tbody>
</table>
</div>`;
}

function none(text: string): string {
  return `<p class="none">${esc(text)}</p>`;
}

function section(id: string, title: string, body: string): string {
  return `<section aria-labelledby="${id}-title">
<h2 id="${id}-title">${esc(title)}</h2>
${body}
</section>`;
}

const directionName: Record<string, string> = { toExchange: 'Dynamics 365 → Exchange', toDataverse: 'Exchange → Dynamics 365' };

function mailboxRows(mailboxes: MailboxStatus[], now: number): string[][] {
  return mailboxes.map((m) => {
    const reason = m.stateReason ? `<br><span>${esc(m.stateReason)}</span>` : '';
    const resumes = m.pausedUntil ? `<br><span>resumes by itself from ${time(m.pausedUntil, now)}</span>` : '';
    const lifted = m.blockCode ? '<br><span>lifted by <code>mailbox enable</code> once the cause is fixed</span>' : '';
    const catchup = m.catchupPending ? `<br><span class="badge warning">catch-up pending</span> ${esc(m.catchupPending.reason)}` : '';
    const reconcile = m.lastReconcile
      ? `${time(m.lastReconcile.at, now)}<br>${esc(m.lastReconcile.enqueued)} enqueued${m.lastReconcile.errors.length ? `, ${badge(`${m.lastReconcile.errors.length} errors`, 'attention')}` : ''}`
      : time(undefined, now);
    const backfill = m.backfill ? `${esc(m.backfill.enqueued)} enqueued, ${m.backfill.completedAt ? `done ${time(m.backfill.completedAt, now)}` : `running since ${time(m.backfill.startedAt, now)}`}` : '<span class="muted">none</span>';
    return [
      esc(m.userPrincipalName),
      `${badge(m.state, stateTone(m.state))}${reason}${resumes}${lifted}${catchup}`,
      esc(m.entities.join(', ')) || '<span class="muted">none</span>',
      time(m.lastSync.toExchange, now),
      time(m.lastSync.toDataverse, now),
      reconcile,
      backfill,
      esc(m.recurringIgnored),
    ];
  });
}

function subscriptionRows(mailboxes: MailboxStatus[], now: number): string[][] {
  return mailboxes.flatMap((m) =>
    [...m.subscriptions]
      .sort((a, b) => a.resourceKind.localeCompare(b.resourceKind))
      .map((s) => {
        // Renewal runs every 30 minutes (functions/table.ts); a subscription within 2 hours of its end was missed.
        const expiry = s.expiresInHours <= 0 ? badge('expired', 'attention') : s.expiresInHours < 2 ? badge('expiring', 'warning') : badge('valid', 'ok');
        return [esc(m.userPrincipalName), esc(s.resourceKind), `<code>${esc(s.id)}</code>`, `${expiry} ${time(s.expirationDateTime, now)}`];
      }),
  );
}

function holdRows(holds: BreakerHoldStatus[], names: Map<string, string>, now: number): string[][] {
  return holds.map((h) => [esc(names.get(h.mailboxId.toLowerCase()) ?? h.mailboxId), esc(h.kind), esc(directionName[h.direction] ?? h.direction), esc(h.trigger), esc(h.held), time(h.since, now)]);
}

function decisionRows(decisions: DecisionStatus[], names: Map<string, string>, now: number): string[][] {
  return decisions.map((d) => [
    time(d.at, now),
    d.mailboxId ? esc(names.get(d.mailboxId.toLowerCase()) ?? d.mailboxId) : '<span class="muted">-</span>',
    esc(d.kind),
    esc(directionName[d.direction] ?? d.direction),
    `<code>${esc(d.itemId)}</code>`,
    esc(d.decision),
    esc(d.reason),
  ]);
}

/** What the page's search box asked (`?explain=<id>`): the explanation, or the error naming what is wrong with the id. */
export interface PageExplain {
  id: string;
  result?: Explanation | undefined;
  error?: string | undefined;
}

export interface PageOptions {
  explain?: PageExplain | undefined;
}

function explainSection(options: PageOptions, names: Map<string, string>): string {
  // POST to the page's own address: a GET form would replace the query string and lose the function key (`?code=`),
  // while a POST keeps the address as it is, so the key never has to be written into the page.
  const form = `<form method="post" action="" role="search" aria-label="Explain an item">
<label for="explain-id">Dataverse id (GUID) or Exchange item id</label>
<input id="explain-id" name="explain" type="search" maxlength="1024" required value="${esc(options.explain?.id ?? '')}">
<button type="submit">Explain</button>
</form>`;
  const asked = options.explain;
  if (!asked) return section('explain', 'Why did an item (not) sync?', form);
  if (asked.error !== undefined) return section('explain', 'Why did an item (not) sync?', `${form}\n<p class="none" role="alert">${esc(asked.error)}</p>`);
  const r = asked.result!;
  const pairs = r.pairs.length === 0 ? none('Not linked in any mailbox.') : table('explain-pairs', 'Pairs of this item', ['Mailbox', 'Kind', 'Dataverse', 'Exchange', 'Status'], r.pairs.map((p) => [esc(p.userPrincipalName ?? p.mailboxId), esc(p.kind), `<code>${esc(p.dataverseEntity)} ${esc(p.dataverseId)}</code>`, p.exchangeId ? `<code>${esc(p.exchangeId)}</code>` : '<span class="muted">-</span>', esc(p.status)]));
  const rows = r.mailboxes.flatMap((m) => m.decisions.map((d) => [esc(d.at), esc(m.userPrincipalName ?? (m.mailboxId ? (names.get(m.mailboxId.toLowerCase()) ?? m.mailboxId) : '-')), esc(directionName[d.direction] ?? d.direction), esc(d.source ?? ''), esc(d.decision), esc(d.outcome ?? ''), esc(d.configVersion ?? ''), esc(d.reason)]));
  const decisions = rows.length === 0 ? none('No decision recorded for this id.') : table('explain-decisions', 'The decisions recorded for this item, latest first, with their reasons', ['When', 'Mailbox', 'Direction', 'Source', 'Decision', 'Outcome', 'Config', 'Reason'], rows);
  return section('explain', 'Why did an item (not) sync?', `${form}\n<p id="explain-summary"><strong>${esc(r.idKind === 'dataverse' ? 'Dataverse record' : 'Exchange item')} <code>${esc(r.id)}</code></strong>: ${esc(r.summary)}</p>\n${pairs}\n${decisions}`);
}

/** The status report as the page's HTML (the report holds ids, codes, counts and times; never item contents). */
export function renderStatusPage(report: StatusReport, options: PageOptions = {}): string {
  const now = Date.parse(report.generatedAt);
  const mailboxes = [...report.mailboxes].sort((a, b) => a.userPrincipalName.localeCompare(b.userPrincipalName));
  const names = new Map(mailboxes.map((m) => [m.id.toLowerCase(), m.userPrincipalName]));
  const attention = mailboxes.filter((m) => stateTone(m.state) === 'attention').length;
  const b = report.backlog;
  const count = (n: number | null) => (n === null ? 'unknown' : `${n}${b.capped ? '+' : ''}`);
  const holds = report.breakerHolds ?? [];
  const decisions = report.recentDecisions ?? [];
  const subscriptions = subscriptionRows(mailboxes, now);

  const sections = [
    explainSection(options, names),
    section(
      'mailboxes',
      `Mailboxes (${mailboxes.length})`,
      mailboxes.length === 0
        ? none('No mailbox is enabled.')
        : table('mailbox-table', 'Each mailbox: its state and reason, what it syncs, and when a change last reached each side', ['Mailbox', 'State', 'Syncs', 'Last sync to Exchange', 'Last sync to Dynamics 365', 'Last reconciliation', 'Backfill', 'Recurring items left out'], mailboxRows(mailboxes, now)),
    ),
    section('subscriptions', `Subscriptions (${subscriptions.length})`, subscriptions.length === 0 ? none('None.') : table('subscription-table', 'Graph change-notification subscriptions and when they expire', ['Mailbox', 'Resource', 'Subscription id', 'Expires'], subscriptions)),
    section(
      'backlog',
      'Backlog',
      `<dl class="facts">
<dt>Changes waiting</dt><dd id="backlog-queued">${esc(count(b.queued))}</dd>
<dt>Dead-lettered messages</dt><dd id="backlog-dead">${esc(count(b.deadLettered))}</dd>
<dt>Counted by</dt><dd>${esc(b.method)}</dd>
<dt>Dynamics 365 reconciliation</dt><dd>${report.dataverseReconcile ? `${time(report.dataverseReconcile.at, now)}, ${esc(report.dataverseReconcile.enqueued)} enqueued${report.dataverseReconcile.errors.length ? `, ${badge(`${report.dataverseReconcile.errors.length} errors`, 'attention')}` : ''}` : time(undefined, now)}</dd>
</dl>`,
    ),
    section(
      'dead-letters',
      `Dead letters (${report.deadLetters.count})`,
      report.deadLetters.recent.length === 0
        ? none('None.')
        : `${report.deadLetters.count > report.deadLetters.recent.length ? `<p>The latest ${report.deadLetters.recent.length} of ${report.deadLetters.count}; all of them: <code>npm run dlq -- list</code>.</p>` : ''}${table(
            'dead-letter-table',
            'Changes that were not applied and will not be retried until replayed, with their reasons',
            ['Reason', 'When', 'Description', 'Message id', 'Correlation id'],
            report.deadLetters.recent.map((d) => [esc(d.reason), time(d.at, now), esc(d.description), `<code>${esc(d.messageId)}</code>`, d.correlationId ? `<code>${esc(d.correlationId)}</code>` : '<span class="muted">-</span>']),
          )}`,
    ),
    section('breaker', `Breaker holds (${holds.length})`, holds.length === 0 ? none('None.') : table('breaker-table', 'Writes the mass-delete breaker holds until a person releases or discards them', ['Mailbox', 'Kind', 'Direction', 'Trigger', 'Held', 'Since'], holdRows(holds, names, now))),
    section(
      'decisions',
      `Recent decisions (${decisions.length})`,
      decisions.length === 0 ? none('None.') : table('decision-table', 'The latest decisions of the sync with their reasons', ['When', 'Mailbox', 'Kind', 'Direction', 'Item id', 'Decision', 'Reason'], decisionRows(decisions, names, now)),
    ),
    section(
      'errors',
      `Last errors (${report.lastErrors.length})`,
      report.lastErrors.length === 0 ? none('None.') : table('error-table', 'The most recent problems: dead letters, mailboxes that stopped, reconciliation errors', ['Source', 'When', 'Message'], report.lastErrors.map((e) => [esc(e.source), time(e.at, now), esc(e.message)])),
    ),
  ];
  const nav = [
    ['explain', 'Explain an item'],
    ['mailboxes', 'Mailboxes'],
    ['subscriptions', 'Subscriptions'],
    ['backlog', 'Backlog'],
    ['dead-letters', 'Dead letters'],
    ['breaker', 'Breaker holds'],
    ['decisions', 'Recent decisions'],
    ['errors', 'Last errors'],
  ];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Sync status${attention ? ` (${attention} needing attention)` : ''} - dataverse-exchange-sync</title>
<style>${style}</style>
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header>
<h1>Dynamics 365 ↔ Exchange sync status</h1>
<p>Report made ${time(report.generatedAt, now)}. <a href="">Refresh</a></p>
<ul class="summary" aria-label="Summary">
<li><strong>${esc(mailboxes.length)}</strong> mailboxes${attention ? `, ${badge(`${attention} needing attention`, 'attention')}` : ''}</li>
<li><strong>${esc(count(b.queued))}</strong> changes waiting</li>
<li><strong>${esc(report.deadLetters.count)}</strong> dead letters</li>
<li><strong>${esc(holds.length)}</strong> breaker holds</li>
</ul>
<nav aria-label="Sections"><ul>${nav.map(([id, label]) => `<li><a href="#${id}-title">${esc(label)}</a></li>`).join('')}</ul></nav>
</header>
<main id="main" tabindex="-1">
${sections.join('\n')}
</main>
<footer><p class="muted">The same report as JSON: <code>GET /api/status</code>; in a terminal: <code>npm run cli -- status</code>.</p></footer>
</body>
</html>
`;
}
