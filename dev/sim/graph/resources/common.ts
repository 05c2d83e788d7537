// Shapes shared by Outlook and To Do items: itemBody, recipients, dateTimeTimeZone, extended properties, input
// checking with Graph's error codes, and the presentation of a stored item ($select, $expand, Prefer headers).
import { z } from 'zod';
import { GraphError } from '../graphError.js';
import { matchesFilter, normaliseExtendedPropertyId, type FilterExpr } from '../odataFilter.js';
import type { ItemRecord } from '../store.js';
import { formatZonedDateTime, parseZonedDateTime, resolveTimeZone, type ResolvedZone } from '../timeZones.js';

/** How the caller asked to see items. */
export interface PresentOptions {
  /** Lower-cased property names from $select (undefined = all). */
  select?: Set<string>;
  /** Output zone for dateTimeTimeZone values (`Prefer: outlook.timezone`). */
  zone: ResolvedZone;
  /** `Prefer: outlook.body-content-type="text"`. */
  bodyAsText: boolean;
  /** `$expand=singleValueExtendedProperties(...)`: 'all' or the inner $filter. */
  expandExtended?: FilterExpr | 'all';
  /** `$expand=linkedResources` on To Do tasks. */
  expandLinkedResources?: boolean;
  /** `$expand=exceptionOccurrences` on a series master (added by the GET route). */
  expandExceptionOccurrences?: boolean;
}

/** Per-kind rules for rendering an item. */
export interface ResourceSpec {
  /** Graph type name without namespace, e.g. "event". */
  typeName: string;
  /** Properties $select may name. */
  properties: ReadonlySet<string>;
  /** Full JSON view in UTC without extended properties. */
  view(record: ItemRecord): Record<string, unknown>;
  /** Re-expresses zone- or body-dependent properties for a request. */
  adjust?(out: Record<string, unknown>, record: ItemRecord, opts: PresentOptions): void;
  /** Where `@odata.etag` goes: Outlook items put it first. */
  etag: boolean;
  /** Properties returned only when $select names them (message `internetMessageHeaders`, `uniqueBody`); undefined = omitted. */
  selectOnly?: Record<string, (record: ItemRecord) => unknown>;
}

/** Renders a stored item for a response. */
export function present(spec: ResourceSpec, record: ItemRecord, opts: PresentOptions): Record<string, unknown> {
  record.view ??= spec.view(record);
  const out: Record<string, unknown> = spec.etag ? { '@odata.etag': `W/"${record.changeKey}"`, ...record.view } : { ...record.view };
  if (spec.adjust && (!opts.zone.isUtc || opts.bodyAsText || opts.zone.label !== 'UTC' || opts.expandLinkedResources)) spec.adjust(out, record, opts);
  if (opts.select) {
    for (const key of Object.keys(out)) {
      if (key === 'id' || key === '@odata.etag' || key.startsWith('@odata')) continue;
      if (!opts.select.has(key.toLowerCase())) delete out[key];
    }
    for (const [key, value] of Object.entries(spec.selectOnly ?? {})) {
      if (!opts.select.has(key.toLowerCase())) continue;
      const v = value(record);
      if (v !== undefined) out[key] = v;
    }
  }
  if (opts.expandExtended) {
    const all = [...record.ext.values()].map((p) => ({ id: p.id, value: p.value }));
    const filter = opts.expandExtended;
    out.singleValueExtendedProperties = filter === 'all' ? all : all.filter((p) => matchesFilter(filter, p));
  }
  return out;
}

/** The item's JSON including extended properties, for $filter evaluation. */
export function filterView(spec: ResourceSpec, record: ItemRecord): Record<string, unknown> {
  record.view ??= spec.view(record);
  const linked = (record.data as { linkedResources?: unknown }).linkedResources;
  return { ...record.view, singleValueExtendedProperties: [...record.ext.values()], ...(linked ? { linkedResources: linked } : {}) };
}

/** 400 RequestBodyRead for a property the type does not have (Graph's wording). */
export function rejectUnknownProperties(body: Record<string, unknown>, known: ReadonlySet<string>, typeName: string): void {
  for (const key of Object.keys(body)) {
    if (key.startsWith('@odata.') || key.includes('@odata.')) continue;
    if (!known.has(key)) {
      throw new GraphError(
        400,
        'RequestBodyRead',
        `The property '${key}' does not exist on type 'microsoft.graph.${typeName}'. Make sure to only use property names that are defined by the type or mark the type as open type.`,
      );
    }
  }
}

/** Parses a request body against a schema; a mismatch is 400 naming the property. */
export function parseBody<T>(schema: z.ZodType<T>, body: unknown, typeName: string): T {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new GraphError(400, 'BadRequest', `Empty Payload. JSON content expected for a ${typeName}.`);
  const result = schema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path.join('.') ?? '';
    throw new GraphError(400, 'RequestBodyRead', `Invalid value for property '${path}' of type 'microsoft.graph.${typeName}': ${issue?.message ?? 'invalid'}.`);
  }
  return result.data;
}

export const itemBodyInput = z.object({
  contentType: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.enum(['text', 'html']))
    .optional(),
  content: z.string().nullable().optional(),
});

export const emailAddressInput = z.object({ address: z.string().nullable().optional(), name: z.string().nullable().optional() });
export const recipientInput = z.object({ emailAddress: emailAddressInput });
export const dateTimeTimeZoneInput = z.object({ dateTime: z.string(), timeZone: z.string().nullable().optional() });

export const EXTENDED_PROPERTY_ID =
  /^(String|Integer|Boolean|SystemTime|Binary|Guid|Double|Float|Long|Short|Currency|Object|ApplicationTime|CLSID)(Array)?\s+(\{[0-9a-fA-F-]{36}\}\s+(Name\s+\S.*|Id\s+0x[0-9a-fA-F]+)|0x[0-9a-fA-F]{1,4})$/;

export const extendedPropertiesInput = z.array(z.object({ id: z.string(), value: z.string().nullable() }));

/** Applies singleValueExtendedProperties from a POST/PATCH: listed ones are set, others kept (a null value removes). */
export function applyExtendedProperties(target: Map<string, { id: string; value: string }>, input: { id: string; value: string | null }[] | undefined): boolean {
  if (!input) return false;
  let changed = false;
  for (const p of input) {
    if (!EXTENDED_PROPERTY_ID.test(p.id.trim())) {
      throw new GraphError(400, 'ErrorInvalidExtendedPropertyValue', `The extended property id '${p.id}' is not valid: expected '<type> {guid} Name <name>', '<type> {guid} Id 0x<hex>' or '<type> 0x<tag>'.`);
    }
    const key = normaliseExtendedPropertyId(p.id);
    const existing = target.get(key);
    if (p.value === null) {
      if (existing) {
        target.delete(key);
        changed = true;
      }
      continue;
    }
    if (existing?.value !== p.value) {
      target.set(key, { id: existing?.id ?? p.id.trim().replace(/\s+/g, ' '), value: p.value });
      changed = true;
    }
  }
  return changed;
}

/** Index keys for extended properties (`ep:<id>\0<value>`, lower-cased). */
export function extendedPropertyKeys(ext: Map<string, { id: string; value: string }>): string[] {
  return [...ext.entries()].map(([k, p]) => `ep:${k}\u0000${p.value.toLowerCase()}`);
}

/** Resolves a dateTimeTimeZone input to an instant and its zone; 400 TimeZoneNotSupportedException for an unknown zone. */
export function parseDateTimeTimeZone(input: { dateTime: string; timeZone?: string | null | undefined }, property: string): { ms: number; zone: ResolvedZone } {
  const zoneName = input.timeZone ?? 'UTC';
  const zone = resolveTimeZone(zoneName);
  if (!zone) throw timeZoneNotSupported(zoneName);
  const ms = parseZonedDateTime(input.dateTime, zone);
  if (ms === undefined) throw new GraphError(400, 'RequestBodyRead', `Cannot convert the literal '${input.dateTime}' of property '${property}.dateTime' to a date and time.`);
  return { ms, zone };
}

export function timeZoneNotSupported(name: string): GraphError {
  return new GraphError(400, 'TimeZoneNotSupportedException', `A valid TimeZone value must be specified. The following TimeZone value is not supported: '${name}'.`);
}

/** A dateTimeTimeZone value for output. */
export function zoned(ms: number, zone: ResolvedZone): { dateTime: string; timeZone: string } {
  return { dateTime: formatZonedDateTime(ms, zone), timeZone: zone.label };
}

/** Plain text of an HTML fragment (tags dropped, entities for &, <, >, quotes and nbsp decoded, spaces collapsed). */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div)>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .replace(/[ \t]+/g, ' ')
    .replace(/\s*\n\s*/g, '\n')
    .trim();
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** Stored body as Outlook returns it by default: HTML, wrapped in a document (samples/graph-event-create-response.json). */
export function bodyAsHtml(body: { contentType: 'text' | 'html'; content: string }): { contentType: 'html'; content: string } {
  if (body.content === '') return { contentType: 'html', content: '' };
  if (body.contentType === 'html') {
    return { contentType: 'html', content: /<html[\s>]/i.test(body.content) ? body.content : `<html><head></head><body>${body.content}</body></html>` };
  }
  const paragraphs = escapeHtml(body.content).replace(/\r?\n/g, '<br>');
  return { contentType: 'html', content: `<html><head>\r\n<meta http-equiv="Content-Type" content="text/html; charset=utf-8"></head><body><div>${paragraphs}</div></body></html>` };
}

/** bodyPreview: the first 255 characters of the body's text. */
export function bodyPreview(body: { contentType: 'text' | 'html'; content: string }): string {
  const text = body.contentType === 'html' ? htmlToText(body.content) : body.content.trim();
  return text.replace(/\s+/g, ' ').slice(0, 255);
}

/** Checks an If-Match header against the item's etag; stale -> 412 ErrorIrresolvableConflict (Exchange's code). */
export function checkIfMatch(ifMatch: string | undefined, record: ItemRecord, code = 'ErrorIrresolvableConflict'): void {
  if (ifMatch === undefined || ifMatch.trim() === '*') return;
  const given = ifMatch.trim().replace(/^W\//, '').replace(/^"|"$/g, '');
  if (given !== record.changeKey) {
    throw new GraphError(
      412,
      code,
      'The send or update operation could not be performed because the change key passed in the request does not match the current change key for the item.',
    );
  }
}
