// Personal contacts and contact folders (GDC api-reference/v1.0/resources/contact.md, contactfolder.md). The
// representation follows samples/graph-contact.json: null for unset scalars, [] for empty collections, {} for
// empty physical addresses, "" for fileAs and personalNotes. The default folder is reachable by its id and by the
// well-known name `contacts` (contactFolders('contacts')); GET /contactFolders lists only the folders under it.
import { z } from 'zod';
import { GraphError } from '../graphError.js';
import type { ItemRecord, Mailbox } from '../store.js';
import { utcTimestamp0 } from '../timeZones.js';
import { collectionKeys, type Actor, type World } from '../world.js';
import { applyExtendedProperties, checkIfMatch, extendedPropertiesInput, extendedPropertyKeys, parseBody, rejectUnknownProperties, type ResourceSpec } from './common.js';

const physicalAddress = z.object({
  street: z.string().nullable().optional(),
  city: z.string().nullable().optional(),
  state: z.string().nullable().optional(),
  countryOrRegion: z.string().nullable().optional(),
  postalCode: z.string().nullable().optional(),
});
const nullableString = z.string().nullable().optional();
const stringList = z.array(z.string()).nullable().optional();

const SCALARS = [
  'birthday',
  'fileAs',
  'displayName',
  'givenName',
  'initials',
  'middleName',
  'nickName',
  'surname',
  'title',
  'yomiGivenName',
  'yomiSurname',
  'yomiCompanyName',
  'generation',
  'jobTitle',
  'companyName',
  'department',
  'officeLocation',
  'profession',
  'businessHomePage',
  'assistantName',
  'manager',
  'mobilePhone',
  'spouseName',
  'personalNotes',
] as const;
const LISTS = ['categories', 'imAddresses', 'homePhones', 'businessPhones', 'children'] as const;
const ADDRESSES = ['homeAddress', 'businessAddress', 'otherAddress'] as const;

export const contactInput = z.object({
  ...Object.fromEntries(SCALARS.map((k) => [k, nullableString])),
  ...Object.fromEntries(LISTS.map((k) => [k, stringList])),
  ...Object.fromEntries(ADDRESSES.map((k) => [k, physicalAddress.nullable().optional()])),
  emailAddresses: z.array(z.object({ address: z.string().nullable().optional(), name: z.string().nullable().optional() })).nullable().optional(),
  singleValueExtendedProperties: extendedPropertiesInput.optional(),
}) as z.ZodType<Record<string, unknown> & { singleValueExtendedProperties?: { id: string; value: string | null }[] }>;

const KNOWN = new Set<string>([...SCALARS, ...LISTS, ...ADDRESSES, 'emailAddresses', 'singleValueExtendedProperties', 'id', 'createdDateTime', 'lastModifiedDateTime', 'changeKey', 'parentFolderId']);

export interface ContactData {
  fields: Record<string, unknown>;
  autoDisplayName: boolean;
}
export type ContactRecord = ItemRecord<ContactData>;

const CONTACT_ORDER = [
  'createdDateTime',
  'lastModifiedDateTime',
  'changeKey',
  'categories',
  'parentFolderId',
  'birthday',
  'fileAs',
  'displayName',
  'givenName',
  'initials',
  'middleName',
  'nickName',
  'surname',
  'title',
  'yomiGivenName',
  'yomiSurname',
  'yomiCompanyName',
  'generation',
  'imAddresses',
  'jobTitle',
  'companyName',
  'department',
  'officeLocation',
  'profession',
  'businessHomePage',
  'assistantName',
  'manager',
  'homePhones',
  'mobilePhone',
  'businessPhones',
  'spouseName',
  'personalNotes',
  'children',
  'emailAddresses',
  'homeAddress',
  'businessAddress',
  'otherAddress',
];

function defaultFor(key: string): unknown {
  if ((LISTS as readonly string[]).includes(key) || key === 'emailAddresses') return [];
  if ((ADDRESSES as readonly string[]).includes(key)) return {};
  if (key === 'fileAs' || key === 'personalNotes') return '';
  return null;
}

export const contactSpec: ResourceSpec = {
  typeName: 'contact',
  etag: true,
  properties: new Set(CONTACT_ORDER.map((k) => k.toLowerCase())),
  view(record) {
    const f = (record as ContactRecord).data.fields;
    const out: Record<string, unknown> = { id: record.id };
    for (const key of CONTACT_ORDER) {
      if (key === 'createdDateTime') out[key] = utcTimestamp0(record.createdAt);
      else if (key === 'lastModifiedDateTime') out[key] = utcTimestamp0(record.modifiedAt);
      else if (key === 'changeKey') out[key] = record.changeKey;
      else if (key === 'parentFolderId') out[key] = record.parentId;
      else out[key] = structuredClone(f[key] ?? defaultFor(key));
    }
    return out;
  },
};

export interface ContactFolderData {
  displayName: string;
}

export const contactFolderSpec: ResourceSpec = {
  typeName: 'contactFolder',
  etag: false,
  properties: new Set(['displayname', 'parentfolderid']),
  view(record) {
    return { id: record.id, displayName: (record.data as ContactFolderData).displayName, parentFolderId: record.parentId };
  },
};

function normaliseAddress(a: Record<string, unknown> | null | undefined): Record<string, unknown> {
  if (!a) return {};
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a)) if (v !== null && v !== undefined && v !== '') out[k] = v;
  return out;
}

/** Contact and contact-folder rules. */
export class ContactService {
  constructor(private readonly world: World) {}

  /** Resolves a folder id or the well-known name `contacts` to the folder id; 404 otherwise. */
  folderId(mb: Mailbox, idOrName: string): string {
    if (idOrName.toLowerCase() === 'contacts' || idOrName === mb.defaultContactFolderId) return mb.defaultContactFolderId;
    const f = this.world.items.get(idOrName);
    if (!f || f.kind !== 'contactFolder' || f.userId !== mb.user.id) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return f.id;
  }

  folderCollectionKey(mb: Mailbox): string {
    return collectionKeys.contactFolders(mb.user.id);
  }

  contactsKey(mb: Mailbox, folderId: string): string {
    return collectionKeys.contacts(mb.user.id, folderId);
  }

  /** The default folder as a record-like view. */
  defaultFolderView(mb: Mailbox): Record<string, unknown> {
    return { id: mb.defaultContactFolderId, displayName: 'Contacts', parentFolderId: `${mb.defaultContactFolderId.slice(0, -4)}AQ==` };
  }

  createFolder(mb: Mailbox, body: unknown, actor: Actor): ItemRecord {
    const input = parseBody(z.object({ displayName: z.string().min(1, 'displayName is required') }), body, 'contactFolder');
    const coll = this.world.collection(this.folderCollectionKey(mb), 'contactFolder', mb.user.id, mb.defaultContactFolderId);
    for (const id of coll.ids) {
      const f = this.world.items.get(id);
      if ((f?.data as ContactFolderData | undefined)?.displayName.toLowerCase() === input.displayName.toLowerCase()) {
        throw new GraphError(409, 'ErrorFolderExists', 'A folder with the specified name already exists.');
      }
    }
    const record = this.world.insert({ kind: 'contactFolder', userId: mb.user.id, collection: coll, data: { displayName: input.displayName }, indexKeys: [], actor });
    this.world.collection(this.contactsKey(mb, record.id), 'contact', mb.user.id, record.id);
    return record;
  }

  updateFolder(mb: Mailbox, id: string, body: unknown, actor: Actor): ItemRecord {
    const record = this.world.get(this.folderCollectionKey(mb), id);
    const input = parseBody(z.object({ displayName: z.string().min(1) }), body, 'contactFolder');
    record.data = { displayName: input.displayName };
    this.world.touch(record, [], actor);
    return record;
  }

  deleteFolder(mb: Mailbox, id: string, actor: Actor): void {
    if (id === mb.defaultContactFolderId || id.toLowerCase() === 'contacts') throw new GraphError(403, 'ErrorDeleteDistinguishedFolder', 'Distinguished folders cannot be deleted.');
    const record = this.world.get(this.folderCollectionKey(mb), id);
    const coll = this.world.collections.get(this.contactsKey(mb, id));
    for (const contactId of [...(coll?.ids ?? [])]) {
      const c = this.world.items.get(contactId);
      if (c) this.world.remove(c, actor);
    }
    this.world.remove(record, actor);
  }

  indexKeys(record: ContactRecord): string[] {
    const f = record.data.fields;
    const emails = (f.emailAddresses as { address?: string | null }[] | undefined) ?? [];
    return [
      ...emails.filter((e) => e.address).map((e) => `email:${String(e.address).toLowerCase()}`),
      ...((f.categories as string[] | undefined) ?? []).map((c) => `cat:${c.toLowerCase()}`),
      ...extendedPropertyKeys(record.ext),
    ];
  }

  create(mb: Mailbox, folderId: string, body: unknown, actor: Actor): ContactRecord {
    const input = this.parse(body);
    const fields: Record<string, unknown> = {};
    const autoDisplayName = input.displayName === undefined || input.displayName === null;
    this.assign(fields, input);
    if (autoDisplayName) fields.displayName = composeDisplayName(fields);
    const ext = new Map<string, { id: string; value: string }>();
    applyExtendedProperties(ext, input.singleValueExtendedProperties);
    const data: ContactData = { fields, autoDisplayName };
    const coll = this.world.collection(this.contactsKey(mb, folderId), 'contact', mb.user.id, folderId);
    return this.world.insert({ kind: 'contact', userId: mb.user.id, collection: coll, data, ext, indexKeys: this.indexKeys({ data, ext } as ContactRecord), actor });
  }

  /** Finds a contact of the mailbox in any folder. */
  find(mb: Mailbox, id: string): ContactRecord {
    const r = this.world.items.get(id);
    if (!r || r.kind !== 'contact' || r.userId !== mb.user.id) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
    return r as ContactRecord;
  }

  update(record: ContactRecord, body: unknown, actor: Actor, ifMatch?: string): ContactRecord {
    checkIfMatch(ifMatch, record);
    const input = this.parse(body);
    const fields = { ...record.data.fields };
    this.assign(fields, input);
    let auto = record.data.autoDisplayName;
    if ('displayName' in input) auto = input.displayName === null;
    if (auto) fields.displayName = composeDisplayName(fields);
    applyExtendedProperties(record.ext, input.singleValueExtendedProperties);
    record.data = { fields, autoDisplayName: auto };
    this.world.touch(record, this.indexKeys(record), actor);
    return record;
  }

  delete(record: ContactRecord, actor: Actor, ifMatch?: string): void {
    checkIfMatch(ifMatch, record);
    this.world.remove(record, actor);
  }

  private parse(body: unknown): Record<string, unknown> & { singleValueExtendedProperties?: { id: string; value: string | null }[] } {
    if (body && typeof body === 'object' && !Array.isArray(body)) rejectUnknownProperties(body as Record<string, unknown>, KNOWN, 'contact');
    return parseBody(contactInput, body, 'contact');
  }

  private assign(fields: Record<string, unknown>, input: Record<string, unknown>): void {
    for (const key of [...SCALARS, ...LISTS]) if (key in input) fields[key] = input[key] ?? defaultFor(key);
    for (const key of ADDRESSES) if (key in input) fields[key] = normaliseAddress(input[key] as Record<string, unknown> | null);
    if ('emailAddresses' in input) {
      fields.emailAddresses = ((input.emailAddresses as { address?: string | null; name?: string | null }[] | null) ?? []).map((e) => ({ name: e.name ?? e.address ?? '', address: e.address ?? '' }));
    }
  }
}

function composeDisplayName(f: Record<string, unknown>): string {
  return [f.givenName, f.middleName, f.surname].filter((x) => typeof x === 'string' && x).join(' ');
}
