// Rows as the Web API returns them: `@odata.etag` W/"<versionnumber>", lookups as `_<name>_value`, unset columns as
// null, and the instance annotations a caller asks for with `Prefer: odata.include-annotations`
// (PAD webapi/query-data-web-api.md "Request formatted values" / "Lookup property data").
import type { Column, EntityDef } from './schema.js';
import { isLookup, text, type LookupRef, type Row } from './store.js';

/** Which annotations a request wants: from `odata.include-annotations="*"` or a comma list with `*` wildcards. */
export type AnnotationFilter = (name: string) => boolean;

/** Parses the include-annotations preference out of a Prefer header. */
export function parseIncludeAnnotations(prefer: string | undefined): { filter: AnnotationFilter; raw: string } | undefined {
  if (!prefer) return undefined;
  const m = /odata\.include-annotations\s*=\s*"([^"]*)"/i.exec(prefer) ?? /odata\.include-annotations\s*=\s*([^,;\s]+)/i.exec(prefer);
  if (!m) return undefined;
  const patterns = m[1]!.split(',').map((p) => p.trim()).filter(Boolean);
  const tests = patterns.map((p) => {
    const negate = p.startsWith('-');
    const body = negate ? p.slice(1) : p;
    const re = new RegExp(`^${body.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    return { negate, re };
  });
  const filter: AnnotationFilter = (name) => {
    let ok = false;
    for (const t of tests) if (t.re.test(name)) ok = !t.negate;
    return ok;
  };
  return { filter, raw: m[1]! };
}

const FORMATTED = 'OData.Community.Display.V1.FormattedValue';
const LOOKUP_LOGICAL = 'Microsoft.Dynamics.CRM.lookuplogicalname';
const NAV = 'Microsoft.Dynamics.CRM.associatednavigationproperty';

const PRIORITY_LABELS: Record<number, string> = { 0: 'Low', 1: 'Normal', 2: 'High' };

export interface SerializeOptions {
  select?: Column[] | undefined;
  annotations?: AnnotationFilter | undefined;
  /** The primary name of a referenced record (for FormattedValue on lookups). */
  nameOf: (ref: LookupRef) => string | null;
}

/** The JSON of one row. */
export function rowToJson(def: EntityDef, row: Row, options: SerializeOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (row['versionnumber'] !== undefined && row['versionnumber'] !== null) out['@odata.etag'] = `W/"${text(row['versionnumber'])}"`;
  const columns = options.select ? [...options.select, def.columns.get(def.primaryId)!] : [...def.columns.values()];
  const seen = new Set<string>();
  const want = options.annotations;
  for (const c of columns) {
    if (c.writeOnly || seen.has(c.name)) continue;
    seen.add(c.name);
    const v = row[c.name];
    if (c.type === 'lookup') {
      const key = `_${c.name}_value`;
      const ref = isLookup(v) ? v : null;
      if (ref && want) {
        if (want(FORMATTED)) {
          const name = options.nameOf(ref);
          if (name !== null) out[`${key}@${FORMATTED}`] = name;
        }
        if (want(NAV)) out[`${key}@${NAV}`] = (c.targets?.length ?? 0) > 1 ? `${c.name}_${ref.logicalName}` : c.name;
        if (want(LOOKUP_LOGICAL)) out[`${key}@${LOOKUP_LOGICAL}`] = ref.logicalName;
      }
      out[key] = ref ? ref.id : null;
      continue;
    }
    if (want?.(FORMATTED) && typeof v === 'number') {
      const label = formattedLabel(def, c, v);
      if (label !== undefined) out[`${c.name}@${FORMATTED}`] = label;
    }
    out[c.name] = v ?? null;
  }
  return out;
}

function formattedLabel(def: EntityDef, c: Column, v: number): string | undefined {
  if (c.type === 'state') return def.states?.find((s) => s.state === v)?.label;
  if (c.type === 'status') return def.states?.flatMap((s) => s.statuses).find((s) => s.value === v)?.label;
  if (c.name === 'prioritycode') return PRIORITY_LABELS[v];
  return undefined;
}

/** The `$select` list part of an `@odata.context` URL. */
export function contextSelect(select: Column[] | undefined): string {
  if (!select) return '';
  return `(${select.map((c) => (c.type === 'lookup' ? `_${c.name}_value` : c.name)).join(',')})`;
}
