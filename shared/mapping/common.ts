// Conversions more than one table uses.
import type { DateTime } from 'luxon';
import type { GraphDateTimeTimeZone } from '../wire/dates.js';
import type { MappingContext } from './context.js';
import type { SyncedRow } from './fieldTable.js';
import { canonicalBody, canonicalText } from './text.js';
import { instantOfGraph, localDateOf } from './time.js';

export type Importance = 'low' | 'normal' | 'high';

const importanceByPriority: readonly Importance[] = ['low', 'normal', 'high'];

/** prioritycode (0 Low, 1 Normal, 2 High; docs/reference/platform-facts.md section 6) -> Graph importance; empty is Normal. */
export function importanceOfPriority(code: number | null | undefined): Importance {
  return (code === null || code === undefined ? undefined : importanceByPriority[code]) ?? 'normal';
}

/** Graph importance -> prioritycode. */
export function priorityOfImportance(importance: Importance): 0 | 1 | 2 {
  return importance === 'low' ? 0 : importance === 'high' ? 2 : 1;
}

/** Canonical text cut to a Dataverse column's MaxLength, so a long Outlook value does not fail the whole write. */
export function fitColumn(value: string | null, maxLength: number): string | null {
  return value === null ? null : canonicalText(value.slice(0, maxLength));
}

/**
 * The calendar date a Graph dateTimeTimeZone stands for. To Do due and completion dates are dates: a midnight
 * value is taken as written; any other time is read as an instant and dated in the mailbox zone (Graph may return
 * the local midnight converted to UTC).
 */
export function dateOfGraph(value: GraphDateTimeTimeZone, field: string, ctx: MappingContext): string {
  if (/T00:00(:00(\.0+)?)?$/.test(value.dateTime)) return value.dateTime.slice(0, 10);
  return localDateOf(instantOfGraph(value, field, ctx), ctx);
}

/** Milliseconds from `instant` to the context clock (positive: the instant is in the past). */
export function ageOf(instant: DateTime, ctx: MappingContext): number {
  return ctx.now.getTime() - instant.toMillis();
}

export const dayMs = 24 * 60 * 60 * 1000;

/** The activity subject <-> a Graph text property (an event's subject, a To Do task's title); shared by both tables. */
export function activitySubjectRow<Name extends string, Dv extends { subject?: string | null }, Ex>(
  name: Name,
  property: 'subject' | 'title',
  read: (item: Ex) => string | null | undefined,
): SyncedRow<Name, string | null, Dv, Ex> {
  return {
    name,
    dataverse: ['subject'],
    graph: [property],
    direction: 'Both',
    conversion: { toExchange: 'text as is', toDataverse: 'text, cut to 200 characters (column MaxLength)' },
    fromDataverse: (r) => canonicalText(r.subject),
    fromExchange: (e) => canonicalText(read(e)),
    toExchange: (v) => ({ [property]: v ?? '' }),
    toDataverse: (v) => ({ subject: fitColumn(v, 200) }),
  };
}

/** The activity description <-> the Graph item body (plain text); shared by the appointment and task tables. */
export function activityBodyRow<Dv extends { description?: string | null }, Ex extends { body?: { contentType?: string | null; content?: string | null } | null }>(): SyncedRow<
  'body',
  string | null,
  Dv,
  Ex
> {
  return {
    name: 'body',
    dataverse: ['description'],
    graph: ['body'],
    direction: 'Both',
    conversion: { toExchange: 'plain text body (contentType text)', toDataverse: 'HTML bodies converted to plain text' },
    fromDataverse: (r) => canonicalText(r.description),
    fromExchange: (e) => canonicalBody(e.body),
    toExchange: (v) => ({ body: { contentType: 'text', content: v ?? '' } }),
    toDataverse: (v) => ({ description: v }),
  };
}

/** prioritycode <-> importance; shared by the appointment and task tables. */
export function activityImportanceRow<Dv extends { prioritycode?: number | null }, Ex extends { importance?: Importance | null }>(): SyncedRow<'importance', Importance, Dv, Ex> {
  return {
    name: 'importance',
    dataverse: ['prioritycode'],
    graph: ['importance'],
    direction: 'Both',
    conversion: { toExchange: '0 Low -> low, 1 Normal (or empty) -> normal, 2 High -> high', toDataverse: 'low -> 0, normal -> 1, high -> 2' },
    fromDataverse: (r) => importanceOfPriority(r.prioritycode),
    fromExchange: (e) => e.importance ?? 'normal',
    toExchange: (v) => ({ importance: v }),
    toDataverse: (v) => ({ prioritycode: priorityOfImportance(v) }),
  };
}
