// Calendar routes: the default calendar, events (also under /calendar and /calendars/{cal}), their cancel and
// responses, a series' instances, and calendarView with its delta. /events lists single events and series masters;
// calendarView and its delta list single events, occurrences and exceptions, never masters
// (https://learn.microsoft.com/graph/api/user-list-events, https://learn.microsoft.com/graph/api/user-list-calendarview).
import { z } from 'zod';
import { GraphError } from '../graphError.js';
import { presentOptions, queryParam } from '../requestOptions.js';
import type { RouteContext, RouteRegistrar } from '../routing.js';
import type { World } from '../world.js';
import { present } from './common.js';
import { eventSpec, type EventRecord, type EventService } from './events.js';
import { cancelledOccurrenceId } from './series.js';
import { accepted, json, ok204, type Responses } from './responses.js';

export function registerEventRoutes(r: RouteRegistrar, res: Responses, events: EventService, _world: World): void {
  const calendarView = (ctx: RouteContext) => ({ id: ctx.mb.calendarId, name: 'Calendar', color: 'auto', hexColor: '', isDefaultCalendar: true, changeKey: 'DwAAABYAAAA', canShare: true, canViewPrivateItems: true, canEdit: true, allowedOnlineMeetingProviders: ['teamsForBusiness'], defaultOnlineMeetingProvider: 'teamsForBusiness', isTallyingResponses: true, isRemovable: false, owner: { name: ctx.mb.user.displayName, address: ctx.mb.user.mail } });
  r.add('GET', 'users/{u}/calendar', 'calendar', 'read', (ctx) => json(200, { '@odata.context': `${res.base}/v1.0/$metadata#users('${ctx.userSeg}')/calendar/$entity`, ...calendarView(ctx) }));
  r.add('GET', 'users/{u}/calendars', 'calendar', 'read', (ctx) => json(200, { '@odata.context': `${res.base}/v1.0/$metadata#users('${ctx.userSeg}')/calendars`, value: [calendarView(ctx)] }));
  r.add('GET', 'users/{u}/calendars/{cal}', 'calendar', 'read', (ctx) => {
    calendarCheck(ctx);
    return json(200, { '@odata.context': `${res.base}/v1.0/$metadata#users('${ctx.userSeg}')/calendars/$entity`, ...calendarView(ctx) });
  });

  for (const prefix of ['events', 'calendar/events', 'calendars/{cal}/events']) {
    const p = `users/{u}/${prefix}`;
    r.add('GET', p, 'calendar', 'read', (ctx) => {
      calendarCheck(ctx);
      return res.list(ctx, {
        spec: eventSpec,
        kind: 'event',
        collections: [events.collectionKey(ctx.mb)],
        contextPath: `users('${ctx.userSeg}')/events`,
        linkPath: `/users/${ctx.userSeg}/${prefix.replace('{cal}', ctx.params.cal ?? '')}`,
        where: (r) => (r as EventRecord).data.type !== 'exception',
      });
    });
    r.add('POST', p, 'calendar', 'write', (ctx) => {
      calendarCheck(ctx);
      const { record } = events.create(ctx.mb, ctx.req.body, ctx.actor);
      return res.entity(ctx, eventSpec, record, `users('${ctx.userSeg}')/events`, 201);
    });
    r.add('GET', `${p}/{id}/instances`, 'calendar', 'read', (ctx) => {
      calendarCheck(ctx);
      const master = events.resolve(ctx.mb, ctx.params.id as string);
      const w = timeWindow(ctx.req.query);
      return res.list(ctx, {
        spec: eventSpec,
        kind: 'event',
        collections: [events.collectionKey(ctx.mb)],
        contextPath: `users('${ctx.userSeg}')/events('${master.id}')/instances`,
        linkPath: `/users/${ctx.userSeg}/${prefix.replace('{cal}', ctx.params.cal ?? '')}/${encodeURIComponent(master.id)}/instances`,
        records: events.instances(master, w),
        defaultOrder: byStart,
      });
    });
    r.add('GET', `${p}/{id}`, 'calendar', 'read', (ctx) => {
      calendarCheck(ctx);
      const record = events.resolve(ctx.mb, ctx.params.id as string);
      const response = res.entity(ctx, eventSpec, record, `users('${ctx.userSeg}')/events`);
      if (record.data.type === 'seriesMaster') addSeriesProperties(ctx, response.body as Record<string, unknown>, record, events);
      return response;
    });
    r.add('PATCH', `${p}/{id}`, 'calendar', 'write', (ctx) => {
      calendarCheck(ctx);
      const record = events.update(ctx.mb, ctx.params.id as string, ctx.req.body, ctx.actor, ctx.req.headers['if-match']);
      return res.entity(ctx, eventSpec, record, `users('${ctx.userSeg}')/events`);
    });
    r.add('DELETE', `${p}/{id}`, 'calendar', 'write', (ctx) => {
      calendarCheck(ctx);
      events.delete(ctx.mb, ctx.params.id as string, ctx.actor, ctx.req.headers['if-match']);
      return ok204();
    });
    r.add('POST', `${p}/{id}/cancel`, 'calendar', 'write', (ctx) => {
      calendarCheck(ctx);
      events.cancel(ctx.mb, ctx.params.id as string, ctx.actor);
      return accepted();
    });
    for (const [action, response] of [
      ['accept', 'accepted'],
      ['tentativelyaccept', 'tentativelyAccepted'],
      ['decline', 'declined'],
    ] as const) {
      r.add('POST', `${p}/{id}/${action}`, 'calendar', 'write', (ctx) => {
        calendarCheck(ctx);
        const body = z.object({ comment: z.string().optional(), sendResponse: z.boolean().optional() }).passthrough().safeParse(ctx.req.body ?? {});
        if (!body.success) throw new GraphError(400, 'RequestBodyRead', 'sendResponse must be a boolean.');
        events.respond(ctx.mb, ctx.params.id as string, response, body.data.sendResponse ?? true, ctx.actor);
        return accepted();
      });
    }
  }

  for (const prefix of ['calendarView', 'calendar/calendarView', 'calendars/{cal}/calendarView']) {
    const p = `users/{u}/${prefix}`;
    r.add('GET', p, 'calendar', 'read', (ctx) => {
      calendarCheck(ctx);
      const w = timeWindow(ctx.req.query);
      return res.list(ctx, {
        spec: eventSpec,
        kind: 'event',
        collections: [events.collectionKey(ctx.mb)],
        contextPath: `users('${ctx.userSeg}')/calendarView`,
        linkPath: `/users/${ctx.userSeg}/${prefix.replace('{cal}', ctx.params.cal ?? '')}`,
        records: events.calendarView(ctx.mb, w),
        defaultOrder: byStart,
      });
    });
    r.add('GET', `${p}/delta`, 'calendar', 'read', (ctx) => {
      calendarCheck(ctx);
      return res.delta(ctx, eventSpec, '#microsoft.graph.event', 'event', () => {
        const w = timeWindow(ctx.req.query);
        const linkBase = `${res.base}/v1.0/users/${ctx.userSeg}/${prefix.replace('{cal}', ctx.params.cal ?? '')}/delta`;
        return {
          userId: ctx.mb.user.id,
          collectionKey: events.collectionKey(ctx.mb),
          window: { start: w.start, end: w.end },
          linkBase,
          restartUrl: `${linkBase}?startDateTime=${encodeURIComponent(w.startText)}&endDateTime=${encodeURIComponent(w.endText)}`,
          expand: (record, initial) => {
            const e = record as EventRecord;
            if (e.data.type !== 'seriesMaster') return undefined;
            // A later round after a cancelled occurrence (deltaAfterCancellation 'silent'): nothing to list.
            if (!initial && events.deltaSilentFor(e)) return [];
            const sparse = events.deltaOccurrencesSparse();
            return events.viewOf(e, w).map((o) => (sparse ? { record: o, sparse: true } : { record: o }));
          },
        };
      });
    });
  }

}

const byStart = (a: { data: unknown }, b: { data: unknown }) => (a.data as { start: number }).start - (b.data as { start: number }).start;

/**
 * cancelledOccurrences and exceptionOccurrences, which a GET of a series master returns only when asked for:
 * cancelledOccurrences with $select, exceptionOccurrences with $expand (https://learn.microsoft.com/graph/api/resources/event).
 */
function addSeriesProperties(ctx: RouteContext, body: Record<string, unknown>, master: EventRecord, events: EventService): void {
  const opts = presentOptions(ctx.req.query, eventSpec, ctx.prefs);
  if (opts.select?.has('cancelledoccurrences')) body.cancelledOccurrences = [...master.data.cancelled].sort((a, b) => a - b).map((s) => cancelledOccurrenceId(master, s));
  if (opts.expandExceptionOccurrences && (!opts.select || opts.select.has('exceptionoccurrences'))) {
    body.exceptionOccurrences = events.exceptionsOf(master).map((ex) => present(eventSpec, ex, { ...opts, expandExceptionOccurrences: false }));
  }
}

/** The startDateTime/endDateTime window of calendarView (a value without an offset is UTC). */
function timeWindow(q: URLSearchParams): { start: number; end: number; startText: string; endText: string } {
  const s = queryParam(q, 'startDateTime');
  const e = queryParam(q, 'endDateTime');
  if (!s || !e) throw new GraphError(400, 'ErrorInvalidParameter', 'This request requires a time window specified by the query string parameters StartDateTime and EndDateTime.');
  const parse = (v: string) => {
    const withZone = /(Z|[+-]\d{2}:\d{2})$/i.test(v) ? v : `${v}Z`;
    const t = Date.parse(withZone);
    if (Number.isNaN(t)) throw new GraphError(400, 'ErrorInvalidParameter', `The value '${v}' of parameter 'StartDateTime/EndDateTime' is not a valid date and time.`);
    return t;
  };
  return { start: parse(s), end: parse(e), startText: s, endText: e };
}

/** A mailbox has one calendar: any other `{cal}` is not found. */
function calendarCheck(ctx: RouteContext): void {
  const cal = ctx.params.cal;
  if (cal !== undefined && cal !== ctx.mb.calendarId) throw new GraphError(404, 'ErrorItemNotFound', 'The specified object was not found in the store.');
}
