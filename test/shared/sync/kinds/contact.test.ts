// The contact kind's pure rules (shared/sync/kinds/contact.ts): how backfill pairs a record with an existing
// Outlook contact, who loses the Exchange copy of a deleted contact (compared without regard to case), and what the
// kind hands the engine for a create and for the directions. Its adapters (Graph and Dataverse reads and writes,
// the delta round) are reached by the e2e tests only.
import { describe, expect, it } from 'vitest';
import { contactToGraphContact, fieldTables } from '../../../../shared/mapping/index.js';
import type { Mailbox } from '../../../../shared/storage/mailboxStore.js';
import type { Pair } from '../../../../shared/storage/pairStore.js';
import { contactKind } from '../../../../shared/sync/kinds/contact.js';
import type { ItemCandidate, RecordCandidate } from '../../../../shared/sync/kinds/types.js';
import { contact, ctxAt, me } from '../../../mapping/fixtures.js';

const ctx = ctxAt('2026-12-08T09:00:00Z');
const candidate = (id: string, matchKeys: string[], stampedId?: string): ItemCandidate => ({ resource: 'contact', id, matchKeys, tracked: false, ...(stampedId ? { stampedId } : {}) });
const record = (matchKey?: string): RecordCandidate => ({ entity: 'contact', id: 'cccccccc-0000-4000-8000-000000000001', ...(matchKey ? { matchKey } : {}) });

describe('backfill pairs a contact by its e-mail address', () => {
  it('takes the first free contact that has the address among its own, carried by the Dataverse side', () => {
    const free = [candidate('other', ['someone@contoso.com']), candidate('second', ['alex@fabrikam.com', 'alex.home@example.org']), candidate('third', ['alex@fabrikam.com'])];
    expect(contactKind.backfill.match(record('alex@fabrikam.com'), free)).toEqual({ item: free[1], reason: 'same e-mail address', carriedBy: 'dataverse' });
  });

  it('passes over a contact the sync stamped already (another record has it)', () => {
    const free = [candidate('stamped', ['alex@fabrikam.com'], 'dddddddd-0000-4000-8000-000000000009'), candidate('free', ['alex@fabrikam.com'])];
    expect(contactKind.backfill.match(record('alex@fabrikam.com'), free)?.item.id).toBe('free');
    expect(contactKind.backfill.match(record('alex@fabrikam.com'), free.slice(0, 1))).toBeUndefined();
  });

  it('matches nothing without an address on the record, or with no contact that has it', () => {
    const free = [candidate('no address', []), candidate('other', ['someone@contoso.com'])];
    expect(contactKind.backfill.match(record(), free)).toBeUndefined();
    expect(contactKind.backfill.match(record('alex@fabrikam.com'), free)).toBeUndefined();
  });
});

describe('a contact deleted in Dynamics 365', () => {
  // Ids with hex letters, so that the case of the owner's id and of the mailbox's user can differ.
  const user = 'abcdef01-2345-4678-89ab-cdef01234567';
  const mailbox: Mailbox = { id: 'mbx-dana', userPrincipalName: me.address, address: me.address, systemUserId: user, timeZone: 'Europe/Berlin', entities: ['contact'], state: 'active' };
  const pair: Pair = { mailboxId: mailbox.id, kind: 'contact', dataverseEntity: 'contact', dataverseId: 'cccccccc-0000-4000-8000-000000000001', exchangeId: 'AAMk-c', base: {}, status: 'linked' };
  const decide = (ownerId: string | undefined, systemUserId = user) => contactKind.onDataverseDelete({ pair, mailbox: { ...mailbox, systemUserId }, ownerId, now: ctx.now, exchangeItem: undefined });

  it('keeps the Exchange copy of its owner, whatever the case of either id', () => {
    expect(decide(user.toUpperCase())).toEqual({ delete: false, reason: 'owner keeps the Exchange copy' });
    expect(decide(user, user.toUpperCase())).toEqual({ delete: false, reason: 'owner keeps the Exchange copy' });
  });

  it("deletes the copy of a user who is not the owner, and keeps it when the pre image names no owner", () => {
    expect(decide('99999999-8888-4777-8666-555555555555')).toEqual({ delete: true, reason: 'syncing user is not the owner' });
    expect(decide(undefined)).toEqual({ delete: false, reason: 'owner keeps the Exchange copy' });
  });
});

describe('what the contact kind hands the engine', () => {
  it('creates in Exchange with the mapping body and no field left for later', () => {
    const r = contact();
    expect(contactKind.exchangeCreate(r, ctx)).toEqual({ body: contactToGraphContact(r, ctx), unsyncedFields: [] });
  });

  it("syncs the field table's directions, or the configured ones", () => {
    const own = Object.fromEntries(fieldTables.contact.map((row) => [row.name, row.direction]));
    expect(contactKind.directionsFor({})).toEqual(own);
    const configured = { ...own, jobTitle: 'ToExchange' as const };
    expect(contactKind.directionsFor({}, configured)).toEqual(configured);
  });

  it('reads every column it names from the contact table, and subscribes to the contacts of the user', () => {
    expect(contactKind.hasColumn('contact', 'emailaddress1')).toBe(true);
    expect(contactKind.subscription?.path('u1')).toBe('/users/u1/contacts');
  });

  it('looks for no Dynamics 365 contact to adopt for an Outlook contact without an e-mail address', async () => {
    // No runtime: without an address there is nothing to query, and a query through it would throw.
    const mailbox: Mailbox = { id: 'mbx-dana', userPrincipalName: me.address, address: me.address, systemUserId: me.systemUserId, timeZone: 'Europe/Berlin', entities: ['contact'], state: 'active' };
    await expect(contactKind.dataverse.findExisting(undefined as never, mailbox, { emailAddresses: [] })).resolves.toEqual([]);
    await expect(contactKind.dataverse.findExisting(undefined as never, mailbox, {})).resolves.toEqual([]);
  });
});
