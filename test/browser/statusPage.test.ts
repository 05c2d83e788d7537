// The status page in a real browser: Debian's headless Chromium, driven by playwright-core, opens
// GET /api/status/page on the local stack (the `npm start` sandbox stack) after a sync, a dead letter and a mailbox
// that stopped, with JavaScript off (the page has none and must not need it). It checks what an operator reads,
// that nothing is fetched from anywhere else, the keyboard path through the page, the focus outline and the text
// contrast, and saves screenshots under .local/artifacts/browser/ (git-ignored).
// Chromium: `apt-get install -y chromium` (.ci/run installs it); CHROMIUM_PATH points elsewhere.
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import { createAppointment, daysFromNow } from '../support/e2e.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const artifacts = join(root, '.local/artifacts/browser');
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const pausedReason = 'paused: Graph answered 503 for an hour; resumes by itself';

interface Focused {
  tag: string;
  /** The focused element's text, or its label's for a labelled region. */
  text: string;
  id: string;
  outline: string;
  visible: boolean;
}

// Code run inside the page (by the browser, not by Node): kept as source text, so this project's TypeScript needs no
// DOM library. Chromium runs it even with the page's own JavaScript off.
const inPage = {
  focused: `(() => {
    const el = document.activeElement;
    const style = getComputedStyle(el);
    const box = el.getBoundingClientRect();
    const label = el.getAttribute('aria-labelledby');
    const text = ((label ? document.getElementById(label)?.textContent : el.textContent) ?? '').trim();
    return { tag: el.tagName, text, id: el.id, outline: style.outlineStyle + ' ' + style.outlineWidth, visible: box.top >= 0 && box.height > 0 };
  })()`,
  // WCAG 2.x contrast ratio of every shown text against the background it is drawn on, and the labels a screen
  // reader needs: https://www.w3.org/TR/WCAG22/#dfn-contrast-ratio
  accessibilityProblems: `(() => {
    const parse = (c) => {
      const m = /rgba?\\(([^)]+)\\)/.exec(c);
      const [r, g, b, a] = (m ? m[1] : '0,0,0,0').split(',').map((v) => Number(v.trim()));
      return { r, g, b, a: a === undefined ? 1 : a };
    };
    const lum = ({ r, g, b }) => {
      const f = (v) => (v / 255 <= 0.03928 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const background = (el) => {
      for (let e = el; e; e = e.parentElement) {
        const c = parse(getComputedStyle(e).backgroundColor);
        if (c.a > 0) return c;
      }
      return { r: 255, g: 255, b: 255 };
    };
    const out = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      if (!el || !n.textContent.trim()) continue;
      const box = el.getBoundingClientRect();
      if (box.width === 0 || box.bottom < 0) continue; // not shown (the skip link waits above the page)
      const fg = lum(parse(getComputedStyle(el).color));
      const bg = lum(background(el));
      const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
      if (ratio < 4.5) out.push(ratio.toFixed(2) + ':1 "' + n.textContent.trim().slice(0, 40) + '"');
    }
    for (const t of document.querySelectorAll('table')) if (!(t.querySelector('caption')?.textContent ?? '').trim()) out.push('table ' + t.id + ' without a caption');
    for (const r of document.querySelectorAll('[role=region]')) if (!document.getElementById(r.getAttribute('aria-labelledby') ?? '')) out.push('a region without a label');
    if (document.documentElement.lang !== 'en') out.push('no lang');
    if (document.querySelectorAll('h1').length !== 1) out.push('not exactly one h1');
    return out;
  })()`,
};

describe('the status page in Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let probeId = '';
  let url: string;
  const requested: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: apt-get install -y chromium (.ci/run does), or set CHROMIUM_PATH`);
    mkdirSync(artifacts, { recursive: true });
    stack = await startStack({ seed: 29 });
    // As root (CI) Chromium refuses to start with its sandbox; the page it opens is our own, on loopback.
    browser = await chromium.launch({ executablePath, headless: true, args: ['--no-sandbox'] });
    context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1280, height: 900 }, colorScheme: 'light', reducedMotion: 'reduce' });
    page = await context.newPage();
    page.on('request', (r) => void requested.push(r.url()));
    page.on('console', (m) => void (m.type() === 'error' && consoleErrors.push(m.text())));
    url = `${stack.host.origin}/api/status/page?code=${encodeURIComponent(stack.functionKey)}`;
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.close();
  });

  it('shows the mailboxes, their last syncs, a dead letter with its reason and a stopped mailbox with its reason', async () => {
    const alice = stack.users.alice!;
    const bob = stack.users.bob!;
    // A sync: alice's appointment reaches her calendar.
    probeId = String(createAppointment(stack, 'alice', 'Status page probe', daysFromNow(2)).activityid);
    await stack.settled();
    // A dead letter: Exchange refuses the next create for good.
    await stack.graph.admin.failNext({ method: 'POST', path: '/events$', status: 403, code: 'ErrorAccessDenied', message: 'Access is denied.' });
    createAppointment(stack, 'alice', 'Status page refused', daysFromNow(3));
    await stack.settled();
    // A mailbox that stopped syncing, with the reason an operator must read.
    await stack.runtime.mailboxes.patch(bob.graph.id, { state: 'degraded', stateReason: pausedReason });

    const response = await page.goto(url);
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-security-policy']).toMatch(/default-src 'none'/);
    await page.screenshot({ path: join(artifacts, 'status-page.png'), fullPage: true });

    await expect.poll(() => page.title()).toMatch(/^Sync status \(1 needing attention\)/);
    const mailboxes = page.getByRole('table', { name: /Each mailbox/ });
    const aliceRow = mailboxes.getByRole('row', { name: new RegExp(alice.userPrincipalName) });
    const bobRow = mailboxes.getByRole('row', { name: new RegExp(bob.userPrincipalName) });
    const cells = async (row: typeof aliceRow) => (await row.getByRole('cell').allInnerTexts()).map((t) => t.trim());
    // Columns after the mailbox: state, syncs, last to Exchange, last to Dynamics 365, reconciliation, backfill, recurring.
    const [aliceState, , aliceToExchange] = await cells(aliceRow);
    expect(aliceState).toBe('active');
    expect(aliceToExchange).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d UTC \((just now|\d+ min ago)\)$/);
    const [bobState, , bobToExchange] = await cells(bobRow);
    expect(bobState).toContain('degraded');
    expect(bobState).toContain(pausedReason);
    expect(bobToExchange).toBe('never');

    const dead = page.getByRole('table', { name: /not applied/ });
    const deadRows = dead.getByRole('row');
    expect(await deadRows.count()).toBe(2); // header + the refused create
    const [reason, , description] = (await deadRows.nth(1).locator('th, td').allInnerTexts()).map((t) => t.trim());
    expect(reason).toMatch(/^[A-Za-z]+$/);
    expect(description).toContain('403');
    expect(await page.getByRole('heading', { name: 'Dead letters (1)' }).count()).toBe(1);
    expect(await page.locator('#backlog-dead').innerText()).toBe('1');
    expect(await page.locator('#backlog-queued').innerText()).toBe('0');

    // Subscriptions of both mailboxes with their expiry.
    const subscriptions = page.getByRole('table', { name: /subscriptions and when they expire/ });
    expect(await subscriptions.getByRole('row', { name: /valid/ }).count()).toBeGreaterThanOrEqual(2);
    // What this version does not record reads as none, not as an error or an empty table.
    for (const name of ['Breaker holds (0)', 'Recent decisions (0)']) {
      const section = page.getByRole('region', { name });
      expect(await section.innerText()).toContain('None.');
    }

    // Nothing but the page itself was requested (no script, style, font or image from anywhere), and no CSP report.
    expect(requested).toEqual([url]);
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it('is usable by keyboard: a skip link first, then the sections, each stop with a visible focus outline', async () => {
    await page.goto(url);
    await page.keyboard.press('Tab');
    const focused = () => page.evaluate<Focused>(inPage.focused);
    const skip = await focused();
    expect(skip).toMatchObject({ tag: 'A', text: 'Skip to the content', visible: true });
    expect(skip.outline).toMatch(/^solid [3-9]/);
    await page.screenshot({ path: join(artifacts, 'status-page-skip-link.png') });
    // The skip link moves the focus to the main content; the next stops are the search box, its button, then the
    // mailbox table's scroll region.
    await page.keyboard.press('Enter');
    expect((await focused()).id).toBe('main');
    await page.keyboard.press('Tab');
    expect((await focused()).id).toBe('explain-id');
    await page.keyboard.press('Tab');
    expect((await focused()).text).toBe('Explain');
    await page.keyboard.press('Tab');
    const region = await focused();
    expect(region).toMatchObject({ tag: 'DIV', visible: true });
    expect(region.text).toMatch(/^Each mailbox/);
    expect(region.outline).toMatch(/^solid [3-9]/);

    // From the top, Tab walks the skip link, Refresh, the section links in order, then the tables.
    await page.goto(url);
    const stops: string[] = [];
    for (let i = 0; i < 14; i += 1) {
      await page.keyboard.press('Tab');
      const f = await focused();
      expect(f.outline, `focus outline on ${f.text}`).toMatch(/^solid [3-9]/);
      stops.push(f.text);
    }
    expect(stops.slice(0, 10)).toEqual(['Skip to the content', 'Refresh', 'Explain an item', 'Mailboxes', 'Subscriptions', 'Backlog', 'Dead letters', 'Breaker holds', 'Recent decisions', 'Last errors']);
    expect(stops[11]).toBe('Explain');
    expect(stops[12]).toMatch(/^Each mailbox/);
    // A section link takes the reader there: Enter on "Dead letters" scrolls its heading into view.
    await page.goto(url);
    for (let i = 0; i < 7; i += 1) await page.keyboard.press('Tab');
    expect((await focused()).text).toBe('Dead letters');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate<string>('location.hash')).toBe('#dead-letters-title');
    const headingTop = await page.evaluate<number>("document.getElementById('dead-letters-title').getBoundingClientRect().top");
    expect(headingTop).toBeGreaterThanOrEqual(0);
    expect(headingTop).toBeLessThan(900);
    await page.screenshot({ path: join(artifacts, 'status-page-dead-letters.png') });
  }, 60_000);

  it('explains an item from its search box, by keyboard and without JavaScript, keeping the key in the URL; a malformed id is named with a 400', async () => {
    await page.goto(url);
    await page.getByLabel('Dataverse id (GUID) or Exchange item id').focus();
    await page.keyboard.type(probeId);
    const [response] = await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
    expect(response?.status()).toBe(200);
    // The form's POST went to the page's own address, key and all (the page answered 200, not 401).
    expect(response?.request().method()).toBe('POST');
    expect(page.url()).toBe(url);
    expect(await page.getByLabel('Dataverse id (GUID) or Exchange item id').inputValue()).toBe(probeId);
    expect(await page.locator('#explain-summary').innerText()).toContain(probeId);
    const decisions = page.getByRole('table', { name: /decisions recorded for this item/ });
    expect(await decisions.getByRole('row', { name: /Create/ }).count()).toBeGreaterThanOrEqual(1);
    expect(await page.getByRole('table', { name: 'Pairs of this item' }).getByRole('row', { name: /linked/ }).count()).toBe(1);
    await page.screenshot({ path: join(artifacts, 'status-page-explain.png'), fullPage: true });

    const bad = await page.goto(`${url}&explain=${'x'.repeat(1100)}`);
    expect(bad?.status()).toBe(400);
    expect(await page.getByRole('alert').innerText()).toMatch(/1 to 1024 characters/);

    // A POST that is not the search form gets a 4xx naming the problem.
    const post = (body: string, type = 'application/x-www-form-urlencoded') => fetch(url, { method: 'POST', headers: { 'content-type': type }, body });
    const wrongType = await post('{"explain":"x"}', 'application/json');
    expect([wrongType.status, ((await wrongType.json()) as { error: string }).error]).toEqual([415, expect.stringContaining('x-www-form-urlencoded')]);
    expect((await post(`explain=${'x'.repeat(5000)}`)).status).toBe(413);
    const noField = await post('id=1');
    expect([noField.status, ((await noField.json()) as { error: string }).error]).toEqual([400, 'the search form has no explain field']);
  }, 60_000);

  it('has text contrast of at least 4.5:1 everywhere (WCAG 2.2 AA, 1.4.3) and a label for every table and region', async () => {
    await page.goto(url);
    const problems = await page.evaluate<string[]>(inPage.accessibilityProblems);
    expect(problems).toEqual([]);
  });
});
