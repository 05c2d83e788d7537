// Response shapes the route families share: an entity with its @odata.context, a list with $filter, $orderby and
// $top/$skip paging, and a delta round (start or resume from a token).
import type { DeltaEngine, DeltaPage, DeltaScope } from '../delta.js';
import type { FaultInjector } from '../faults.js';
import { compareValues, indexHints, matchesFilter, parseFilter, parseOrderBy, readPath, type FilterExpr } from '../odataFilter.js';
import type { GraphSimLimits } from '../options.js';
import { intParam, presentOptions, queryParam } from '../requestOptions.js';
import type { GraphResponse, RouteContext } from '../routing.js';
import type { ItemKind, ItemRecord } from '../store.js';
import type { World } from '../world.js';
import { filterView, present, type ResourceSpec } from './common.js';

/** What a sparse occurrence in calendarView delta carries (options.ts RecurrenceBehaviour.deltaOccurrences). */
const SPARSE_OCCURRENCE_KEYS = ['@odata.etag', 'seriesMasterId', 'type', 'id', 'start', 'end'];

export function json(status: number, body: unknown, headers: Record<string, string> = {}): GraphResponse {
  return { status, headers, body };
}

export const ok204 = (): GraphResponse => ({ status: 204, headers: {} });
export const accepted = (): GraphResponse => ({ status: 202, headers: {} });

export interface ResponsesDeps {
  world: World;
  delta: DeltaEngine;
  faults: Pick<FaultInjector, 'evictDeltaToken'>;
  limits: () => GraphSimLimits;
  baseUrl: () => string;
}

export class Responses {
  constructor(private readonly d: ResponsesDeps) {}

  /** The simulator's https origin, read per request (the port is known only once the server listens). */
  get base(): string {
    return this.d.baseUrl();
  }

  entity(ctx: RouteContext, spec: ResourceSpec, record: ItemRecord, contextPath: string, status = 200): GraphResponse {
    const opts = presentOptions(ctx.req.query, spec, ctx.prefs);
    return json(status, { '@odata.context': `${this.base}/v1.0/$metadata#${contextPath}/$entity`, ...present(spec, record, opts) });
  }

  /** Lists items of some collections with $filter (index-assisted), $orderby, $top/$skip paging and nextLink. */
  list(
    ctx: RouteContext,
    args: {
      spec: ResourceSpec;
      kind: ItemKind;
      collections: string[];
      contextPath: string;
      linkPath: string;
      where?: (r: ItemRecord) => boolean;
      defaultOrder?: (a: ItemRecord, b: ItemRecord) => number;
      /** Items computed for this request (a calendarView's occurrences) instead of the collections' stored items. */
      records?: readonly ItemRecord[];
    },
  ): GraphResponse {
    const q = ctx.req.query;
    const filterText = queryParam(q, '$filter');
    const filter: FilterExpr | undefined = filterText ? parseFilter(filterText) : undefined;
    const orderText = queryParam(q, '$orderby');
    const order = orderText ? parseOrderBy(orderText) : undefined;
    const limits = this.d.limits();
    const top = Math.min(intParam(q, '$top') ?? ctx.prefs.maxPageSize ?? limits.defaultPageSize, limits.maxPageSize);
    const skip = intParam(q, '$skip') ?? 0;
    const opts = presentOptions(q, args.spec, ctx.prefs);
    const allowed = new Set(args.collections);
    let candidates: Iterable<string>;
    const hints = filter ? indexHints(filter) : [];
    const computed = args.records ? new Map(args.records.map((r) => [r.id, r])) : undefined;
    if (computed) {
      candidates = computed.keys();
    } else if (hints.length > 0) {
      let best: ReadonlySet<string> | undefined;
      for (const h of hints) {
        const set = ctx.mb.index.get(`${args.kind}|${h}`);
        if (!best || set.size < best.size) best = set;
      }
      candidates = best ?? [];
    } else {
      const world = this.d.world;
      candidates = (function* () {
        for (const key of args.collections) yield* world.collections.get(key)?.ids ?? [];
      })();
    }
    const needAll = order !== undefined || args.defaultOrder !== undefined;
    const matches: ItemRecord[] = [];
    for (const id of candidates) {
      const record = computed ? computed.get(id) : this.d.world.items.get(id);
      if (!record || !allowed.has(record.collectionKey)) continue;
      if (args.where && !args.where(record)) continue;
      if (filter && !matchesFilter(filter, filterView(args.spec, record))) continue;
      matches.push(record);
      if (!needAll && matches.length > skip + top) break;
    }
    if (order) {
      const views = new Map(matches.map((r) => [r.id, filterView(args.spec, r)]));
      matches.sort((a, b) => {
        for (const o of order) {
          const c = compareValues(readPath(views.get(a.id), o.path), readPath(views.get(b.id), o.path));
          if (c !== 0) return o.desc ? -c : c;
        }
        return 0;
      });
    } else if (args.defaultOrder) matches.sort(args.defaultOrder);
    const page = matches.slice(skip, skip + top);
    const body: Record<string, unknown> = {
      '@odata.context': `${this.base}/v1.0/$metadata#${args.contextPath}${opts.select ? `(${[...opts.select].join(',')})` : ''}`,
      value: page.map((r) => present(args.spec, r, opts)),
    };
    if (matches.length > skip + top) {
      const next = new URLSearchParams();
      for (const [k, v] of q) if (k.toLowerCase() !== '$skip' && k.toLowerCase() !== '$top') next.append(k, v);
      next.set('$top', String(top));
      next.set('$skip', String(skip + top));
      body['@odata.nextLink'] = `${this.base}/v1.0${args.linkPath}?${next.toString().replace(/%24/g, '$')}`;
    }
    return json(200, body);
  }

  /** Shared logic of every delta endpoint: resume from a token, or start a round with `scope()`. */
  delta(ctx: RouteContext, spec: ResourceSpec, odataType: string | undefined, contextType: string, scope: () => DeltaScope): GraphResponse {
    const q = ctx.req.query;
    const pageSize = ctx.prefs.maxPageSize ?? intParam(q, '$top');
    const skipToken = queryParam(q, '$skiptoken');
    const deltaToken = queryParam(q, '$deltatoken');
    const token = skipToken ?? deltaToken;
    let page: DeltaPage;
    if (token !== undefined) {
      page = this.d.delta.resume(token, skipToken !== undefined ? 'skip' : 'delta', pageSize ?? this.d.limits().defaultDeltaPageSize, this.d.faults.evictDeltaToken());
    } else {
      page = this.d.delta.start(scope(), pageSize ?? this.d.limits().defaultDeltaPageSize);
    }
    return this.deltaPage(ctx, page, spec, odataType, contextType);
  }

  private deltaPage(ctx: RouteContext, page: DeltaPage, spec: ResourceSpec, odataType: string | undefined, contextType: string): GraphResponse {
    const opts = presentOptions(new URLSearchParams(), spec, ctx.prefs, page.scope.select);
    const value = page.entries.map((e) => {
      if ('removedId' in e) return { ...(odataType ? { '@odata.type': odataType } : {}), id: e.removedId, '@removed': { reason: 'deleted' } };
      const full = present(spec, e.record, opts);
      if (e.sparse) {
        const sparse: Record<string, unknown> = { ...(odataType ? { '@odata.type': odataType } : {}) };
        for (const key of SPARSE_OCCURRENCE_KEYS) if (key in full) sparse[key] = full[key];
        return sparse;
      }
      return { ...(odataType ? { '@odata.type': odataType } : {}), ...full };
    });
    const body: Record<string, unknown> = { '@odata.context': `${this.base}/v1.0/$metadata#Collection(${contextType})` };
    if (page.nextLink) body['@odata.nextLink'] = page.nextLink;
    if (page.deltaLink) body['@odata.deltaLink'] = page.deltaLink;
    body.value = value;
    return json(200, body);
  }
}
