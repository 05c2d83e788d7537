import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestGraph, USERS, type TestGraph, pluck, type Loose } from './support.js';

const at = (day: number, hour = 10) => ({
  start: { dateTime: `2030-06-${String(day).padStart(2, '0')}T${hour}:00:00`, timeZone: 'UTC' },
  end: { dateTime: `2030-06-${String(day).padStart(2, '0')}T${hour + 1}:00:00`, timeZone: 'UTC' },
});
const WINDOW = { startDateTime: '2030-06-01T00:00:00Z', endDateTime: '2030-07-01T00:00:00Z' };

/** Follows nextLinks with the SDK until a deltaLink; returns the items and the deltaLink. */
async function round(g: TestGraph, firstUrl: string, pageSize: number): Promise<{ items: Loose[]; deltaLink: string; pages: number }> {
  const items: Loose[] = [];
  let url = firstUrl;
  let pages = 0;
  for (;;) {
    const page = await g.client.api(url).header('Prefer', `odata.maxpagesize=${pageSize}`).get();
    pages += 1;
    items.push(...page.value);
    if (page['@odata.deltaLink']) return { items, deltaLink: page['@odata.deltaLink'], pages };
    url = page['@odata.nextLink'];
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/.+\$skiptoken=/);
  }
}

describe('Graph simulator: delta rounds', () => {
  let g: TestGraph;
  let user: string;
  beforeAll(async () => {
    g = await startTestGraph();
  });
  afterAll(async () => g.sim.close());
  beforeEach(async () => {
    await g.sim.admin.reset();
    user = (await g.sim.admin.seedUsers(USERS))[0]!.id;
  });

  it('pages an initial calendarView/delta round with skiptokens, then reports changes, deletions and events that left the window as @removed', async () => {
    const ids: string[] = [];
    for (let d = 1; d <= 5; d += 1) ids.push((await g.client.api(`/users/${user}/events`).post({ subject: `D${d}`, ...at(d) })).id);
    await g.client.api(`/users/${user}/events`).post({ subject: 'outside', ...at(1, 10), start: { dateTime: '2030-09-01T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2030-09-01T11:00:00', timeZone: 'UTC' } });
    const initial = await round(g, `/users/${user}/calendarView/delta?startDateTime=${WINDOW.startDateTime}&endDateTime=${WINDOW.endDateTime}`, 2);
    expect(initial.pages).toBe(3);
    expect((pluck(initial.items, 'subject') as string[]).sort()).toEqual(['D1', 'D2', 'D3', 'D4', 'D5']);
    expect(initial.items[0]['@odata.type']).toBe('#microsoft.graph.event');
    expect(initial.deltaLink).toMatch(/\$deltatoken=/);

    const nothing = await round(g, initial.deltaLink, 10);
    expect(nothing.items).toEqual([]);

    await g.client.api(`/users/${user}/events/${ids[0]}`).patch({ subject: 'D1 changed' });
    await g.client.api(`/users/${user}/events/${ids[1]}`).delete();
    await g.client.api(`/users/${user}/events/${ids[2]}`).patch({ start: { dateTime: '2030-08-01T10:00:00', timeZone: 'UTC' }, end: { dateTime: '2030-08-01T11:00:00', timeZone: 'UTC' } });
    const created = await g.client.api(`/users/${user}/events`).post({ subject: 'D6', ...at(6) });
    const next = await round(g, nothing.deltaLink, 10);
    const byId = new Map(next.items.map((e) => [e.id, e]));
    expect(byId.get(ids[0]!)?.subject).toBe('D1 changed');
    expect(byId.get(ids[1]!)).toEqual({ '@odata.type': '#microsoft.graph.event', id: ids[1], '@removed': { reason: 'deleted' } });
    expect(byId.get(ids[2]!)?.['@removed']).toEqual({ reason: 'deleted' });
    expect(byId.get(created.id)?.subject).toBe('D6');
    expect(next.items).toHaveLength(4);
  });

  it('answers an evicted delta token with 410 syncStateNotFound, and a new round starts from the Location', async () => {
    await g.client.api(`/users/${user}/events`).post({ subject: 'A', ...at(3) });
    const initial = await round(g, `/users/${user}/calendarView/delta?startDateTime=${WINDOW.startDateTime}&endDateTime=${WINDOW.endDateTime}`, 10);
    expect(await g.sim.admin.evictDeltaTokens(user)).toBeGreaterThan(0);
    const gone = await g.raw('GET', initial.deltaLink);
    expect(gone.status).toBe(410);
    expect(gone.body.error.code).toBe('syncStateNotFound');
    const restart = gone.headers.get('location');
    expect(restart).toContain('startDateTime=');
    const again = await round(g, restart!, 10);
    expect(pluck(again.items, 'subject')).toEqual(['A']);
  });

  it('runs To Do list and task delta per list, and contact delta per folder with $select', async () => {
    const lists = await g.client.api(`/users/${user}/todo/lists/delta`).get();
    expect(pluck(lists.value, 'wellknownListName')).toEqual(['defaultList']);
    const listId = lists.value[0].id;
    const t1 = await g.client.api(`/users/${user}/todo/lists/${listId}/tasks`).post({ title: 'one' });
    const tasks = await round(g, `/users/${user}/todo/lists/${listId}/tasks/delta`, 5);
    expect(pluck(tasks.items, 'title')).toEqual(['one']);
    await g.client.api(`/users/${user}/todo/lists/${listId}/tasks/${t1.id}`).delete();
    const removed = await round(g, tasks.deltaLink, 5);
    expect(removed.items).toEqual([{ id: t1.id, '@removed': { reason: 'deleted' } }]);

    await g.client.api(`/users/${user}/contacts`).post({ givenName: 'Pavel', surname: 'Bansky' });
    const contacts = await round(g, `/users/${user}/contactFolders/contacts/contacts/delta?$select=displayName`, 5);
    expect(contacts.items).toEqual([{ '@odata.type': '#microsoft.graph.contact', '@odata.etag': expect.any(String), id: expect.any(String), displayName: 'Pavel Bansky' }]);
    const listsAfter = await round(g, lists['@odata.deltaLink'], 5);
    expect(listsAfter.items).toEqual([]);
  });
});
