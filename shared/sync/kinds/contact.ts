// Contacts <-> Outlook contacts ("My Contacts": the contacts the user owns), on the mapping of
// shared/mapping/contact.ts.
import { odataString } from '../../odata.js';
import {
  contactToGraphContact,
  dataverseBodyFromSnapshot,
  exchangeBodyFromSnapshot,
  fieldTables,
  graphContactToContact,
  isTrackedInExchange,
  snapshotFromDataverse,
  snapshotFromExchange,
} from '../../mapping/index.js';
import { recordIdForExchangeItem } from '../ids.js';
import { directionsOfTable, firstUnpaired, itemCandidate, notFound, orUndefined, ownerAndParties, stampOf } from './common.js';
import type { GraphItem, SyncKind } from './types.js';

const directions = directionsOfTable(fieldTables.contact);
/** Cursor scope of the default contacts folder's delta round (one per mailbox). */
const contactsDeltaScope = 'contactsDelta';

export const contactKind: SyncKind<'contact'> = {
  name: 'contact',
  tables: ['contact'],
  primaryKey: 'contactid',
  partyNavigation: () => undefined,
  partyColumns: () => ({}),
  resource: 'contact',
  subscription: { kind: 'contacts', path: (id) => `/users/${id}/contacts` },
  hasColumn: () => true,
  extraColumns: [],
  fields: fieldTables.contact,
  directions,

  snapshotFromDataverse: (record, ctx) => snapshotFromDataverse('contact', record, ctx),
  snapshotFromExchange: (item, ctx) => snapshotFromExchange('contact', item, ctx),
  exchangeCreate: (record, ctx) => ({ body: contactToGraphContact(record, ctx), unsyncedFields: [] }),
  dataverseCreate: (item, ctx) => graphContactToContact(item, ctx),
  exchangeBody: (fields, ctx, current) => exchangeBodyFromSnapshot('contact', fields as never, ctx, current),
  dataverseBody: (fields, ctx, current) => dataverseBodyFromSnapshot('contact', fields as never, ctx, current),

  exchange: {
    get: (rt, mailbox, id) => orUndefined(() => rt.graph.getContact(mailbox.id, id), notFound),
    async create(rt, mailbox, create, _record, dataverseId) {
      return { item: await rt.graph.createContact(mailbox.id, create.body, dataverseId) };
    },
    update: (rt, mailbox, pair, patch, ifMatch) => rt.graph.updateContact(mailbox.id, pair.exchangeId!, patch, ifMatch),
    remove: (rt, mailbox, pair) => rt.graph.deleteContact(mailbox.id, pair.exchangeId!),
    async findExisting(rt, mailbox, record, dataverseId, ctx, retrying) {
      // The stamp of an earlier attempt, else a contact with the same e-mail address that no other record claims
      // (backfill of a mailbox whose contacts already exist on both sides).
      const stamped = retrying ? (await rt.graph.findByDataverseId(mailbox.id, 'contacts', dataverseId))[0] : undefined;
      if (stamped) return { item: stamped, how: 'adopt' };
      const email = snapshotFromDataverse('contact', record, ctx).emailAddresses[0];
      const byAddress = email ? await firstUnpaired(rt, mailbox, await rt.graph.findContactsByEmail(mailbox.id, email)) : undefined;
      return byAddress ? { item: byAddress, how: 'adopt' } : undefined;
    },
    stampOf,
  },
  dataverse: {
    get: (rt, table, id) => rt.dataverse.get(table, id, {}),
    findLinkTarget: () => Promise.resolve(undefined),
    async findExisting(rt, mailbox, exSnap) {
      // A Dataverse contact of this user with the same e-mail address.
      const email = (exSnap.emailAddresses as string[] | undefined)?.[0];
      if (!email) return [];
      const matches = await rt.dataverse.query('contact', {
        filter: `emailaddress1 eq ${odataString(email)} and _ownerid_value eq ${mailbox.systemUserId}`,
        select: ['contactid'],
        top: 5,
      });
      return matches.map((m) => m.contactid).filter((id): id is string => typeof id === 'string');
    },
  },
  backfill: {
    async listRecords(rt, mailbox, table) {
      // "My Contacts": the contacts the user owns; contacts are not windowed.
      const rows = await rt.dataverse.query(table, { filter: `_ownerid_value eq ${mailbox.systemUserId.toLowerCase()}`, select: ['contactid', 'emailaddress1'] });
      return rows.map((r) => ({ entity: table, id: String(r.contactid).toLowerCase(), etag: r['@odata.etag'], matchKey: typeof r.emailaddress1 === 'string' && r.emailaddress1 ? r.emailaddress1.toLowerCase() : undefined }));
    },
    async listItems(rt, mailbox) {
      return (await rt.graph.listContacts(mailbox.id)).flatMap((c) => {
        if (!c.id) return [];
        const emails = (c.emailAddresses ?? []).map((a) => a.address?.toLowerCase()).filter((a): a is string => !!a);
        return [itemCandidate(contactKind, c as GraphItem & { id: string }, emails)];
      });
    },
    match(record, free) {
      // An unstamped contact with the same e-mail address. The Dataverse side carries it: the engine's create in
      // Exchange matches a contact by address, while an untracked Exchange contact would be ignored from Exchange.
      const key = record.matchKey;
      const item = key ? free.find((i) => !i.stampedId && i.matchKeys.includes(key)) : undefined;
      return item ? { item, reason: 'same e-mail address', carriedBy: 'dataverse' } : undefined;
    },
  },
  delta: {
    collection: 'contacts',
    async round(rt, mailbox, _window, ctx) {
      // Delta of the default folder (contacts delta is per folder: https://learn.microsoft.com/graph/api/contact-delta).
      const link = await rt.cursors.get<string>(contactsDeltaScope, mailbox.id);
      const page = await ctx.fromLink(link, (l) => rt.graph.contactsDelta(mailbox.id, l ? { link: l } : { folderId: 'contacts' }));
      await ctx.enqueue(page.items, undefined, page.full ? 'resync' : 'listing');
      if (page.full) await ctx.afterFullRound(page.items, undefined);
      if (page.deltaLink) await rt.cursors.set(contactsDeltaScope, mailbox.id, page.deltaLink);
    },
  },

  scopeOf: (_table, record) => ownerAndParties(record, undefined),
  isTracked: (item) => isTrackedInExchange(item, false),
  directionsFor: (_pair, configured = directions) => ({ ...configured }),
  writeNeedsRecord: () => false,
  shapeExchangePatch: (patch) => patch,
  // Server-side sync removes the Exchange copy of a deleted contact only when the syncing user is not its owner.
  dataverseDeleteReads: 'nothing',
  onDataverseDelete({ ownerId, mailbox }) {
    const del = ownerId !== undefined && ownerId.toLowerCase() !== mailbox.systemUserId.toLowerCase();
    return { delete: del, reason: del ? 'syncing user is not the owner' : 'owner keeps the Exchange copy' };
  },
  exchangeDeleteReads: 'nothing',
  onExchangeDelete: () => ({ delete: false, reason: 'contacts and tasks deleted in Exchange are only unlinked' }),
  endsExchangeItem: () => undefined,
  unsupportedRecord: () => undefined,
  unsupportedItem: () => undefined,
  itemFacts: () => ({}),
  recordIdFor: (mailboxId, item) => recordIdForExchangeItem(mailboxId, item.id!),
};
