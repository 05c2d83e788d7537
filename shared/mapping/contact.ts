// Dataverse contact <-> Exchange (Outlook) contact: names, e-mail addresses, phones, postal addresses, company,
// job title, birthday and notes, both ways (docs/reference/platform-facts.md section 3 "contact";
// https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/contact).
import { entitySetNames, parseDataverseRecord, type DataverseContact } from '../wire/dataverse.js';
import { parseGraphContact, type GraphContact, type ParsedGraphContact } from '../wire/graph.js';
import { fitColumn } from './common.js';
import { checkContext, type MappingContext } from './context.js';
import { readSnapshot, withoutNulls, writeBody, type FieldTable, type SyncedRow } from './fieldTable.js';
import { canonicalText } from './text.js';
import { withTrackedCategory } from './tracking.js';

/** Canonical postal address; `street` holds the non-empty street lines joined by newlines. */
export type CanonicalAddress = {
  street: string | null;
  city: string | null;
  state: string | null;
  postalCode: string | null;
  countryOrRegion: string | null;
};

/** Canonical contact snapshot: one value per row of `contactFields`. */
export type ContactSnapshot = {
  firstName: string | null;
  middleName: string | null;
  lastName: string | null;
  salutation: string | null;
  suffix: string | null;
  nickName: string | null;
  displayName: string | null;
  emailAddresses: readonly string[];
  businessPhone: string | null;
  homePhone: string | null;
  mobilePhone: string | null;
  businessAddress: CanonicalAddress | null;
  homeAddress: CanonicalAddress | null;
  companyName: string | null;
  department: string | null;
  jobTitle: string | null;
  birthday: string | null;
  notes: string | null;
};

/** A Dataverse contact body (logical names). */
export type DataverseContactBody = Record<string, string | null>;

type ContactRow<K extends keyof ContactSnapshot> = SyncedRow<K, ContactSnapshot[K], DataverseContact, ParsedGraphContact>;
type TextKeys = { [K in keyof ContactSnapshot]: ContactSnapshot[K] extends string | null ? K : never }[keyof ContactSnapshot];
type DvTextColumn =
  | 'firstname'
  | 'middlename'
  | 'lastname'
  | 'salutation'
  | 'suffix'
  | 'nickname'
  | 'mobilephone'
  | 'department'
  | 'jobtitle'
  | 'description';
type GraphTextProperty = 'givenName' | 'middleName' | 'surname' | 'title' | 'generation' | 'nickName' | 'mobilePhone' | 'department' | 'jobTitle' | 'personalNotes';

/** A plain text column <-> text property row. */
function textRow<K extends TextKeys>(name: K, column: DvTextColumn, property: GraphTextProperty, maxLength: number): ContactRow<K> {
  return {
    name,
    dataverse: [column],
    graph: [property],
    direction: 'Both',
    conversion: { toExchange: 'text as is', toDataverse: `text, cut to ${maxLength} characters (column MaxLength)` },
    fromDataverse: (r) => canonicalText(r[column]),
    fromExchange: (c) => canonicalText(c[property]),
    toExchange: (v) => ({ [property]: v }),
    toDataverse: (v) => ({ [column]: fitColumn(v, maxLength) }),
  };
}

/** A text column <-> first element of a Graph string array (the rest of the array is kept). */
function firstOfArrayRow<K extends 'businessPhone' | 'homePhone'>(
  name: K,
  column: 'telephone1' | 'telephone2',
  property: 'businessPhones' | 'homePhones',
): ContactRow<K> {
  return {
    name,
    dataverse: [column],
    graph: [`${property}[0]`],
    direction: 'Both',
    conversion: { toExchange: `first of ${property}; further numbers in Exchange are kept`, toDataverse: 'text, cut to 50 characters' },
    fromDataverse: (r) => canonicalText(r[column]),
    fromExchange: (c) => canonicalText((c[property] ?? []).find((p) => canonicalText(p) !== null)),
    toExchange: (v, _ctx, current) => {
      const rest = (current?.[property] ?? []).filter((p) => canonicalText(p) !== null).slice(1);
      return { [property]: v === null ? rest : [v, ...rest] };
    },
    toDataverse: (v) => ({ [column]: fitColumn(v, 50) }),
  };
}

type AddressPrefix = 'address1' | 'address2';

function addressOfRecord(r: DataverseContact, prefix: AddressPrefix): CanonicalAddress | null {
  const lines = [r[`${prefix}_line1`], r[`${prefix}_line2`], r[`${prefix}_line3`]];
  return canonicalAddress({
    street: lines.map((l) => canonicalText(l)).filter((l): l is string => l !== null).join('\n'),
    city: r[`${prefix}_city`],
    state: r[`${prefix}_stateorprovince`],
    postalCode: r[`${prefix}_postalcode`],
    countryOrRegion: r[`${prefix}_country`],
  });
}

function canonicalAddress(a: {
  street?: string | null | undefined;
  city?: string | null | undefined;
  state?: string | null | undefined;
  postalCode?: string | null | undefined;
  countryOrRegion?: string | null | undefined;
} | null | undefined): CanonicalAddress | null {
  if (a == null) return null;
  const street = canonicalText(a.street)
    ?.split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join('\n');
  const address: CanonicalAddress = {
    street: street === undefined || street === '' ? null : street,
    city: canonicalText(a.city),
    state: canonicalText(a.state),
    postalCode: canonicalText(a.postalCode),
    countryOrRegion: canonicalText(a.countryOrRegion),
  };
  return Object.values(address).every((v) => v === null) ? null : address;
}

function addressColumns(a: CanonicalAddress | null, prefix: AddressPrefix): Record<string, string | null> {
  // Three street lines in Dataverse; any further Outlook lines stay together in the third.
  const lines = a?.street?.split('\n') ?? [];
  return {
    [`${prefix}_line1`]: fitColumn(lines[0] ?? null, 250),
    [`${prefix}_line2`]: fitColumn(lines[1] ?? null, 250),
    [`${prefix}_line3`]: fitColumn(lines.length > 2 ? lines.slice(2).join('\n') : null, 250),
    [`${prefix}_city`]: fitColumn(a?.city ?? null, 80),
    [`${prefix}_stateorprovince`]: fitColumn(a?.state ?? null, 50),
    [`${prefix}_postalcode`]: fitColumn(a?.postalCode ?? null, 20),
    [`${prefix}_country`]: fitColumn(a?.countryOrRegion ?? null, 80),
  };
}

function addressRow<K extends 'businessAddress' | 'homeAddress'>(name: K, prefix: AddressPrefix, label: string): ContactRow<K> {
  return {
    name,
    dataverse: [`${prefix}_line1..3`, `${prefix}_city`, `${prefix}_stateorprovince`, `${prefix}_postalcode`, `${prefix}_country`],
    graph: [`${name}.street`, `${name}.city`, `${name}.state`, `${name}.postalCode`, `${name}.countryOrRegion`],
    direction: 'Both',
    conversion: {
      toExchange: `${label}: street lines joined by line breaks`,
      toDataverse: 'street split into three lines (further lines stay in line 3)',
    },
    fromDataverse: (r) => addressOfRecord(r, prefix),
    fromExchange: (c) => canonicalAddress(c[name]),
    toExchange: (v) => ({
      [name]: {
        street: v?.street ?? null,
        city: v?.city ?? null,
        state: v?.state ?? null,
        postalCode: v?.postalCode ?? null,
        countryOrRegion: v?.countryOrRegion ?? null,
      },
    }),
    toDataverse: (v) => addressColumns(v, prefix),
  };
}

function emailsOfRecord(r: DataverseContact): string[] {
  return [r.emailaddress1, r.emailaddress2, r.emailaddress3].map((e) => canonicalText(e)).filter((e): e is string => e !== null);
}

function emailsOfContact(c: ParsedGraphContact): string[] {
  return (c.emailAddresses ?? [])
    .map((e) => canonicalText(e.address))
    .filter((e): e is string => e !== null)
    .slice(0, 3);
}

/** The contact field table (server-side sync's synchronized fields for contacts). */
export const contactFields: FieldTable<ContactSnapshot, DataverseContact, ParsedGraphContact> = [
  textRow('firstName', 'firstname', 'givenName', 50),
  textRow('middleName', 'middlename', 'middleName', 50),
  textRow('lastName', 'lastname', 'surname', 50),
  textRow('salutation', 'salutation', 'title', 100),
  textRow('suffix', 'suffix', 'generation', 10),
  textRow('nickName', 'nickname', 'nickName', 100),
  {
    name: 'displayName',
    dataverse: ['fullname'],
    graph: ['displayName'],
    direction: 'ToExchange',
    conversion: { toExchange: 'full name as Dynamics 365 composes it', toDataverse: 'not written (fullname is computed from the name parts)' },
    fromDataverse: (r) => canonicalText(r.fullname),
    fromExchange: (c) => canonicalText(c.displayName),
    toExchange: (v) => (v === null ? {} : { displayName: v }),
    toDataverse: () => ({}),
  },
  {
    name: 'emailAddresses',
    dataverse: ['emailaddress1', 'emailaddress2', 'emailaddress3'],
    graph: ['emailAddresses[0..2].address'],
    direction: 'Both',
    conversion: {
      toExchange: 'non-empty addresses in order, as emailAddresses[0..2]',
      toDataverse: 'emailAddresses[0..2] -> emailaddress1..3 (empty slots close up)',
    },
    fromDataverse: (r) => emailsOfRecord(r),
    fromExchange: (c) => emailsOfContact(c),
    toExchange: (v) => ({ emailAddresses: v.map((address) => ({ address, name: address })) }),
    toDataverse: (v) => ({ emailaddress1: v[0] ?? null, emailaddress2: v[1] ?? null, emailaddress3: v[2] ?? null }),
  },
  firstOfArrayRow('businessPhone', 'telephone1', 'businessPhones'),
  firstOfArrayRow('homePhone', 'telephone2', 'homePhones'),
  textRow('mobilePhone', 'mobilephone', 'mobilePhone', 50),
  addressRow('businessAddress', 'address1', 'Address 1 (the primary, mailing address)'),
  addressRow('homeAddress', 'address2', 'Address 2'),
  {
    name: 'companyName',
    dataverse: ['parentcustomerid (formatted value)'],
    graph: ['companyName'],
    direction: 'ToExchange',
    conversion: {
      toExchange: 'name of the parent account or contact (read with Prefer: odata.include-annotations)',
      toDataverse: 'not written: the company is a lookup, and a typed name names no record',
    },
    fromDataverse: (r) => canonicalText(r['_parentcustomerid_value@OData.Community.Display.V1.FormattedValue']),
    fromExchange: (c) => canonicalText(c.companyName),
    toExchange: (v) => ({ companyName: v }),
    toDataverse: () => ({}),
  },
  textRow('department', 'department', 'department', 100),
  textRow('jobTitle', 'jobtitle', 'jobTitle', 100),
  {
    name: 'birthday',
    dataverse: ['birthdate'],
    graph: ['birthday'],
    direction: 'Both',
    conversion: { toExchange: 'date -> the date at 12:00 UTC (stays the same date in every zone from UTC-12 to UTC+11)', toDataverse: 'date part (DateOnly column)' },
    fromDataverse: (r) => (r.birthdate == null ? null : r.birthdate.slice(0, 10)),
    fromExchange: (c) => (c.birthday == null ? null : c.birthday.slice(0, 10)),
    toExchange: (v) => ({ birthday: v === null ? null : `${v}T12:00:00Z` }),
    toDataverse: (v) => ({ birthdate: v }),
  },
  textRow('notes', 'description', 'personalNotes', 2000),
  {
    name: 'state',
    dataverse: ['statecode'],
    graph: [],
    direction: 'None',
    conversion: { toExchange: 'not synced', toDataverse: 'not synced' },
  },
  {
    name: 'owner',
    dataverse: ['ownerid'],
    graph: [],
    direction: 'None',
    conversion: { toExchange: 'decides which mailboxes sync the contact (sync filters)', toDataverse: 'new records are owned by the mailbox user' },
  },
];

/** Canonical snapshot of a Dataverse contact (validated first). */
export function contactSnapshotFromDataverse(record: unknown, ctx: MappingContext): ContactSnapshot {
  checkContext(ctx);
  return readSnapshot(contactFields, 'dataverse', parseDataverseRecord('contact', record), ctx);
}

/** Canonical snapshot of a Graph contact (validated first). */
export function contactSnapshotFromExchange(contact: unknown, ctx: MappingContext): ContactSnapshot {
  checkContext(ctx);
  return readSnapshot(contactFields, 'exchange', parseGraphContact(contact), ctx);
}

/** Graph contact body for the given fields; with `current` (the contact now), unchanged fields are left out. */
export function contactExchangeBody(fields: Partial<ContactSnapshot>, ctx: MappingContext, current?: unknown): GraphContact {
  checkContext(ctx);
  const now = current === undefined ? undefined : parseGraphContact(current);
  return writeBody(contactFields, 'exchange', fields, ctx, now, 'contactFields');
}

/** Dataverse contact body for the given fields; with `current` (the record now), unchanged fields are left out. */
export function contactDataverseBody(fields: Partial<ContactSnapshot>, ctx: MappingContext, current?: unknown): DataverseContactBody {
  checkContext(ctx);
  const now = current === undefined ? undefined : parseDataverseRecord('contact', current);
  return writeBody(contactFields, 'dataverse', fields, ctx, now, 'contactFields') as DataverseContactBody;
}

/** Maps a Dataverse contact to the Graph contact to create, tagged with the tracked category. */
export function contactToGraphContact(contact: DataverseContact | Record<string, unknown>, ctx: MappingContext): GraphContact {
  checkContext(ctx);
  const snapshot = readSnapshot(contactFields, 'dataverse', parseDataverseRecord('contact', contact), ctx);
  const body = writeBody(contactFields, 'exchange', snapshot, ctx, undefined, 'contactFields') as GraphContact;
  return { ...withoutNulls(body), categories: withTrackedCategory([]) };
}

/** Maps a Graph contact to a Dataverse contact body for a create, owned by the mailbox user. */
export function graphContactToContact(contact: GraphContact | Record<string, unknown>, ctx: MappingContext): DataverseContactBody {
  checkContext(ctx);
  const snapshot = readSnapshot(contactFields, 'exchange', parseGraphContact(contact), ctx);
  const body = writeBody(contactFields, 'dataverse', snapshot, ctx, undefined, 'contactFields') as DataverseContactBody;
  return withoutNulls({ ...body, 'ownerid@odata.bind': `/${entitySetNames.systemuser}(${ctx.mailbox.systemUserId})` });
}
