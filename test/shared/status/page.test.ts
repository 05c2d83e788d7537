// The status page's HTML from a report: every value is text (a reason or description quoting markup stays text),
// the sections the breaker and explain will fill show their rows when the report has them and "None." otherwise,
// and the inline style is the one the Content-Security-Policy allows.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { renderStatusPage, statusPageHeaders, type StatusReport } from '../../../shared/status/index.js';

const aliceId = '7d1a3c55-0b7e-4c61-9f2a-1d3e5f7a9b0c';
const hostile = `<script>alert(1)</script>"><img src=x onerror=alert(2)>`;

function report(extra: Partial<StatusReport> = {}): StatusReport {
  return {
    generatedAt: '2026-12-02T06:00:00.000Z',
    mailboxes: [
      {
        id: aliceId,
        userPrincipalName: 'alice@contoso.example',
        state: 'degraded',
        stateReason: hostile,
        entities: ['appointment'],
        subscriptions: [{ id: 'sub-1', resourceKind: 'events', expirationDateTime: '2026-12-02T07:00:00.000Z', expiresInHours: 1 }],
        lastSync: { toExchange: '2026-12-02T05:55:00.000Z' },
        recurringIgnored: 0,
      },
    ],
    backlog: { queued: 3, deadLettered: 1, capped: false, method: 'peek (up to 250)' },
    deadLetters: { count: 1, recent: [{ reason: 'InvalidInput', description: hostile, messageId: 'm-1', at: '2026-12-02T05:50:00.000Z' }] },
    lastErrors: [],
    calls: { graphRead: 0, graphWrite: 0, dataverseRead: 0, dataverseWrite: 0 },
    configuration: { version: 0, mailboxesWithOwnKeys: [], recent: [] },
    ...extra,
  };
}

describe('renderStatusPage', () => {
  it('writes every value of the report as text, never as markup', () => {
    const html = renderStatusPage(report());
    expect(html).not.toContain('<script');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img src=x onerror=alert(2)&gt;');
    // States and expiries are words, times are machine-readable and relative to the report.
    expect(html).toContain('<span class="badge attention">degraded</span>');
    expect(html).toContain('<span class="badge warning">expiring</span>');
    expect(html).toContain('<time datetime="2026-12-02T05:55:00.000Z">2026-12-02 05:55 UTC</time> <span class="muted">(5 min ago)</span>');
  });

  it('shows breaker holds and recent decisions when the report has them, "None." when it has not', () => {
    const without = renderStatusPage(report());
    expect(without).toMatch(/Breaker holds \(0\)<\/h2>\s*<p class="none">None\.<\/p>/);
    expect(without).toMatch(/Recent decisions \(0\)<\/h2>\s*<p class="none">None\.<\/p>/);
    const withData = renderStatusPage(
      report({
        breakerHolds: [{ mailboxId: aliceId.toUpperCase(), kind: 'appointment', direction: 'toExchange', trigger: 'hardCap', held: 240, since: '2026-12-02T05:00:00.000Z' }],
        recentDecisions: [{ at: '2026-12-02T05:59:00.000Z', mailboxId: aliceId, kind: 'appointment', direction: 'toDataverse', itemId: 'AAMkAG=', decision: 'ignore', reason: 'not tracked' }],
      }),
    );
    expect(withData).toContain('id="breaker-table"');
    expect(withData).toMatch(/<th scope="row">alice@contoso\.example<\/th><td>appointment<\/td><td>Dynamics 365 → Exchange<\/td><td>hardCap<\/td><td>240<\/td>/);
    expect(withData).toContain('id="decision-table"');
    expect(withData).toMatch(/<td>alice@contoso\.example<\/td><td>appointment<\/td><td>Exchange → Dynamics 365<\/td><td><code>AAMkAG=<\/code><\/td><td>ignore<\/td><td>not tracked<\/td>/);
  });

  it('has exactly one style element, the one the Content-Security-Policy names by hash, and no script', () => {
    const html = renderStatusPage(report());
    const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)];
    expect(styles).toHaveLength(1);
    const hash = createHash('sha256').update(styles[0]![1]!).digest('base64');
    expect(statusPageHeaders['content-security-policy']).toContain(`style-src 'sha256-${hash}'`);
    expect(statusPageHeaders['content-security-policy']).toMatch(/^default-src 'none';/);
    // Nothing that would load from elsewhere: no script, stylesheet link, image or CSS url().
    expect(html).not.toMatch(/<script|<link\b|<img|url\(/i);
  });

  it('posts its search form to its own address (the key stays in the URL, never in the page), and writes an explanation and an id as text', () => {
    expect(renderStatusPage(report())).toContain('<form method="post" action="" role="search" aria-label="Explain an item">');
    const html = renderStatusPage(report(), {
      explain: {
        id: hostile,
        result: {
          id: hostile,
          idKind: 'exchange',
          summary: hostile,
          pairs: [],
          mailboxes: [{ mailboxId: aliceId, userPrincipalName: 'alice@contoso.example', lastSync: {}, decisions: [{ at: '2026-12-02T05:59:00.000Z', direction: 'toDataverse', decision: 'Ignore', reason: hostile, source: 'created', outcome: 'ignored', configVersion: 3 }] }],
        },
      },
    });
    expect(html).not.toContain(hostile);
    expect(html).toContain('Not linked in any mailbox.');
    expect(html).toMatch(/<td>Exchange → Dynamics 365<\/td><td>created<\/td><td>Ignore<\/td><td>ignored<\/td><td>3<\/td>/);
    const refused = renderStatusPage(report(), { explain: { id: 'x', error: 'explain: the id must be 1 to 1024 characters (got 1100)' } });
    expect(refused).toMatch(/<p class="none" role="alert">explain: the id must be 1 to 1024 characters \(got 1100\)<\/p>/);
  });
});
