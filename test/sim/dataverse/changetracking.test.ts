// Change tracking (docs/reference/platform-facts.md section 6; samples/dataverse-changetracking-*.json) and service protection limits (429).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { keysOf, sampleJson, startHarness, type Harness, type Loose, pluck, rowsOf } from './support.js';

describe('Dataverse simulator change tracking', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());
  beforeEach(() => h.reset());

  const path = (link: string) => link.replace(`${h.sim.apiUrl}/`, '');

  it('starts with Prefer: odata.track-changes and returns changed and deleted rows shaped like the documented samples', async () => {
    const [keep, change, remove] = h.sim.admin.seedRecords('contacts', [
      { firstname: 'Keep', telephone1: '1' },
      { firstname: 'Change', telephone1: '2' },
      { firstname: 'Remove', telephone1: '3' },
    ]);
    const initial = await h.api('contacts?$select=firstname,telephone1', { headers: { Prefer: 'odata.track-changes' } });
    expect(initial.status).toBe(200);
    expect(initial.headers.get('preference-applied')).toContain('odata.track-changes');
    const documentedInitial = sampleJson('dataverse-changetracking-initial.json');
    expect(keysOf(initial.json)).toEqual(keysOf(documentedInitial));
    expect(initial.json.value).toHaveLength(3);
    expect(keysOf(initial.json.value[0])).toEqual(['@odata.etag', 'contactid', 'firstname', 'telephone1']);
    const deltaLink: string = initial.json['@odata.deltaLink'];
    expect(deltaLink).toMatch(new RegExp(`^${h.sim.apiUrl.replace(/[.]/g, '\\.')}/contacts\\?\\$select=firstname,telephone1&\\$deltatoken=\\d+%21\\d{2}%2f\\d{2}%2f\\d{4}%20\\d{2}%3a\\d{2}%3a\\d{2}$`));

    await h.api(`contacts(${change})`, { method: 'PATCH', body: { telephone1: '22' } });
    await h.api(`contacts(${remove})`, { method: 'DELETE' });
    const added = (await h.api('contacts', { method: 'POST', headers: { Prefer: 'return=representation' }, body: { firstname: 'Added' } })).json.contactid;

    const delta = await h.api(path(deltaLink));
    expect(delta.status).toBe(200);
    const documentedDelta = sampleJson('dataverse-changetracking-delta.json');
    expect(keysOf(delta.json)).toEqual(keysOf(documentedDelta));
    expect(delta.json['@odata.context']).toBe(`${h.sim.apiUrl}/$metadata#contacts(firstname,telephone1)/$delta`);
    const byId = new Map(rowsOf(delta.json).map((r) => [r['contactid'] ?? r['id'], r]));
    expect(byId.has(keep)).toBe(false);
    expect((byId.get(change) as Loose).telephone1).toBe('22');
    expect((byId.get(added) as Loose).firstname).toBe('Added');
    const deleted = byId.get(remove) as Loose;
    expect(keysOf(deleted)).toEqual(keysOf(documentedDelta.value[1]));
    expect(deleted).toEqual({ '@odata.context': `${h.sim.apiUrl}/$metadata#contacts/$deletedEntity`, id: remove, reason: 'deleted' });

    const quiet = await h.api(path(delta.json['@odata.deltaLink']));
    expect(quiet.json.value).toEqual([]);
  });

  it('allows only $select with change tracking (400 otherwise)', async () => {
    for (const q of ['$filter=firstname eq null', '$top=1', '$orderby=firstname']) {
      const res = await h.api(`contacts?$select=firstname&${q}`, { headers: { Prefer: 'odata.track-changes' } });
      expect(res.status).toBe(400);
      expect(res.json.error.message).toContain('only $select');
    }
  });

  it('pages the initial snapshot with nextLink and gives the deltaLink on the last page', async () => {
    h.sim.admin.seedRecords('tasks', Array.from({ length: 7 }, (_, i) => ({ subject: `t${i}` })));
    let res = await h.api('tasks?$select=subject', { headers: { Prefer: 'odata.track-changes,odata.maxpagesize=3' } });
    const seen: string[] = [];
    let pages = 1;
    seen.push(...(pluck(res.json, 'subject') as string[]));
    while (res.json['@odata.nextLink']) {
      expect(res.json['@odata.deltaLink']).toBeUndefined();
      res = await h.api(path(res.json['@odata.nextLink']), { headers: { Prefer: 'odata.track-changes,odata.maxpagesize=3' } });
      seen.push(...(pluck(res.json, 'subject') as string[]));
      pages++;
    }
    expect(pages).toBe(3);
    expect(seen.sort()).toEqual(['t0', 't1', 't2', 't3', 't4', 't5', 't6']);
    expect(res.json['@odata.deltaLink']).toContain('$deltatoken=');
  });

  it('expires tokens after the configured lifetime and on admin eviction, with ExpiredVersionStamp', async () => {
    h.sim.admin.setLimits({ changeTrackingTokenTtlMs: 60_000 });
    const link = (await h.api('appointments?$select=subject', { headers: { Prefer: 'odata.track-changes' } })).json['@odata.deltaLink'];
    expect((await h.api(path(link))).status).toBe(200);
    h.sim.admin.advanceClock(61_000);
    const expired = await h.api(path(link));
    expect(expired.status).toBe(400);
    expect(expired.json.error).toEqual({ code: '0x80044352', message: 'Version stamp associated with the client has expired. Please perform a full sync.' });
    const fresh = (await h.api('appointments?$select=subject', { headers: { Prefer: 'odata.track-changes' } })).json['@odata.deltaLink'];
    expect((await h.api(path(fresh))).status).toBe(200);
    h.sim.admin.expireChangeTrackingTokens();
    expect((await h.api(path(fresh))).json.error.code).toBe('0x80044352');
    h.sim.admin.setLimits({ changeTrackingTokenTtlMs: 7 * 24 * 3600 * 1000 });
  });
});

describe('Dataverse simulator service protection limits', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ limits: { requestsPerWindow: 5, windowSeconds: 300, concurrentRequests: 2 } });
  });
  afterAll(async () => h.close());
  beforeEach(() => h.reset());

  it('answers 429 with Retry-After and the documented code and message past the request limit, until the window moves on', async () => {
    for (let i = 0; i < 5; i++) expect((await h.api('WhoAmI')).status).toBe(200);
    const limited = await h.api('WhoAmI');
    expect(limited.status).toBe(429);
    expect(limited.json.error).toEqual({ code: '0x80072322', message: 'Number of requests exceeded the limit of 5 over time window of 300 seconds.' });
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(300);
    h.sim.admin.advanceClock(retryAfter * 1000);
    expect((await h.api('WhoAmI')).status).toBe(200);
    h.sim.admin.advanceClock(301_000);
  });

  it('answers 429 with the concurrency code when too many requests of one user are in flight', async () => {
    const gate = h.sim.admin.holdRequests('^GET .*/tasks$');
    const calls = [h.api('tasks?$top=1'), h.api('tasks?$top=1'), h.api('tasks?$top=1')];
    // Two are held in flight; the third is refused at once, so it settles first.
    const first = await Promise.race(calls);
    expect(first.status).toBe(429);
    expect(gate.held()).toBe(2);
    gate.release();
    const results = await Promise.all(calls);
    expect(results.map((r) => r.status).sort()).toEqual([200, 200, 429]);
    const limited = results.find((r) => r.status === 429)!;
    expect(limited.json.error).toEqual({ code: '0x80072326', message: 'Number of concurrent requests exceeded the limit of 2.' });
    expect(limited.headers.get('retry-after')).toBe('1');
    h.sim.admin.advanceClock(301_000);
  });
});
