// Query options and Prefer headers of a Graph request: $select, $expand, $top, $skip, and
// `Prefer: outlook.timezone="..."`, `outlook.body-content-type="text"`, `odata.maxpagesize=n`,
// `IdType="ImmutableId"` (GDC concepts/query-parameters.md; api/user-post-events.md; concepts/outlook-immutable-id.md).
import { GraphError } from './graphError.js';
import { parseFilter } from './odataFilter.js';
import { timeZoneNotSupported, type PresentOptions, type ResourceSpec } from './resources/common.js';
import { resolveTimeZone, UTC_ZONE, type ResolvedZone } from './timeZones.js';

/** Parsed Prefer header. */
export interface Preferences {
  zone: ResolvedZone;
  bodyAsText: boolean;
  maxPageSize?: number;
  immutableId: boolean;
  /** Values for the Preference-Applied header. */
  applied: string[];
}

function splitOutsideQuotesAndParens(text: string, sep: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quoted = false;
  let cur = '';
  for (const ch of text) {
    if (ch === '"' || ch === "'") quoted = !quoted;
    else if (!quoted && ch === '(') depth += 1;
    else if (!quoted && ch === ')') depth -= 1;
    if (ch === sep && !quoted && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out.map((s) => s.trim()).filter(Boolean);
}

/** Reads the Prefer header(s). An unknown outlook.timezone is 400 TimeZoneNotSupportedException. */
export function parsePreferences(header: string | undefined): Preferences {
  const prefs: Preferences = { zone: UTC_ZONE, bodyAsText: false, immutableId: false, applied: [] };
  if (!header) return prefs;
  for (const part of splitOutsideQuotesAndParens(header, ',')) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : part.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1');
    if (name === 'outlook.timezone') {
      const zone = resolveTimeZone(value);
      if (!zone) throw timeZoneNotSupported(value);
      prefs.zone = zone;
      prefs.applied.push(`outlook.timezone="${value}"`);
    } else if (name === 'outlook.body-content-type') {
      prefs.bodyAsText = value.toLowerCase() === 'text';
      prefs.applied.push(`outlook.body-content-type="${value}"`);
    } else if (name === 'odata.maxpagesize') {
      const n = Number(value);
      if (Number.isInteger(n) && n > 0) {
        prefs.maxPageSize = n;
        prefs.applied.push(`odata.maxpagesize=${n}`);
      }
    } else if (name === 'idtype') {
      if (value.toLowerCase() === 'immutableid') {
        prefs.immutableId = true;
        prefs.applied.push('IdType="ImmutableId"');
      }
    }
  }
  return prefs;
}

/** A query parameter by name, case-insensitively ($top, startDateTime, ...). */
export function queryParam(query: URLSearchParams, name: string): string | undefined {
  const direct = query.get(name);
  if (direct !== null) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of query) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** A non-negative integer query option, or 400. */
export function intParam(query: URLSearchParams, name: string): number | undefined {
  const v = queryParam(query, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new GraphError(400, 'BadRequest', `Invalid value '${v}' for query option '${name}'.`);
  return n;
}

/** Builds the presentation options for a resource from $select, $expand and Prefer. */
export function presentOptions(query: URLSearchParams, spec: ResourceSpec, prefs: Preferences, selectOverride?: string[]): PresentOptions {
  const opts: PresentOptions = { zone: prefs.zone, bodyAsText: prefs.bodyAsText };
  const select = selectOverride ?? queryParam(query, '$select')?.split(',').map((s) => s.trim()).filter(Boolean);
  if (select && select.length > 0) {
    const set = new Set<string>();
    for (const p of select) {
      const lower = p.toLowerCase();
      if (lower !== 'id' && !spec.properties.has(lower)) throw new GraphError(400, 'BadRequest', `Could not find a property named '${p}' on type 'microsoft.graph.${spec.typeName}'.`);
      set.add(lower);
    }
    opts.select = set;
  }
  const expand = queryParam(query, '$expand');
  if (expand) {
    for (const item of splitOutsideQuotesAndParens(expand, ',')) {
      const m = /^([A-Za-z]+)(?:\((.*)\))?$/s.exec(item);
      const name = m?.[1]?.toLowerCase();
      if (name === 'singlevalueextendedproperties' && spec.typeName !== 'todoTask') {
        const inner = m?.[2]?.trim();
        if (!inner) opts.expandExtended = 'all';
        else {
          const fm = /^\$filter=(.*)$/is.exec(inner);
          if (!fm) throw new GraphError(400, 'BadRequest', `Unsupported expand options '${inner}': only $filter is supported inside singleValueExtendedProperties().`);
          opts.expandExtended = parseFilter(fm[1] as string);
        }
      } else if (name === 'linkedresources' && spec.typeName === 'todoTask') {
        opts.expandLinkedResources = true;
      } else if (name === 'exceptionoccurrences' && spec.typeName === 'event') {
        opts.expandExceptionOccurrences = true;
      } else {
        throw new GraphError(400, 'BadRequest', `Parsing OData Select and Expand failed: Could not find a property named '${m?.[1] ?? item}' on type 'microsoft.graph.${spec.typeName}'.`);
      }
    }
  }
  return opts;
}

/** The select list as stored in delta tokens. */
export function selectList(query: URLSearchParams): string[] | undefined {
  const s = queryParam(query, '$select');
  return s ? s.split(',').map((x) => x.trim()).filter(Boolean) : undefined;
}
