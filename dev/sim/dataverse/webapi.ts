// The Web API endpoint /api/data/v9.2/: authentication and the application user, impersonation headers, service
// protection, the request part of the fault plan, then the OData routes (PAD webapi/*.md).
import { privilegeId, writePrivilege, type PrivilegeBook } from './privileges.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { BodyTooLargeError, bearerToken, readBody, sendJson } from '../common/https.js';
import type { IdentityProvider } from '../identity/index.js';
import type { Caller, Engine } from './engine.js';
import { DataverseError, ErrorCodes, badQuery, badValue, notFound } from './errors.js';
import type { RequestFaultDecision, RequestFaultInjector } from './faults.js';
import { boundaryOf, maxBatchRequests, parseBatchBody, serializeBatchResponse, type BatchPartRequest, type BatchPartResponse } from './batch.js';
import type { HandledRequest } from '../common/https.js';
import type { ServiceProtection } from './limits.js';
import type { SeriesPlatform } from './series.js';
import type { EmailPlatform } from './email.js';
import { matches, parseExpand, parseFilter, parseOrderBy, parseSelect, type ExpandParties } from './odata.js';
import type { IdSource } from './prng.js';
import { entityByLogicalName, entityBySet, type Column, type EntityDef } from './schema.js';
import { contextSelect, parseIncludeAnnotations, rowToJson, type AnnotationFilter } from './serialize.js';
import { text, type LookupRef, type Row, type Store } from './store.js';
import { isGuid } from './values.js';

export const API_PREFIX = '/api/data/v9.2/';

export interface WebApiContext {
  orgUrl: () => string;
  identity: IdentityProvider;
  store: Store;
  engine: Engine;
  protection: ServiceProtection;
  faults: RequestFaultInjector;
  ids: IdSource;
  now: () => number;
  organizationId: string;
  businessUnitId: string;
  changeTrackingTtlMs: () => number;
  /** Delta tokens at or below this version are treated as expired (admin eviction). */
  evictedBelowVersion: () => number;
  maxPageSize: () => number;
  counters: RequestCounters;
  /** The recurring-appointment platform: serves the AddRecurrence and DeleteOpenInstances actions. */
  series?: SeriesPlatform;
  /** The email platform: serves the SendEmail action. */
  email?: EmailPlatform;
  /** What RetrieveUserPrivileges answers per user. */
  privileges?: PrivilegeBook;
  /**
   * Where a batch's 429s come from, which the docs leave open (README "$batch"): 'batch' (default) answers the whole
   * $batch 429 before any part runs; 'part' evaluates service protection and throttle faults per part.
   */
  batchPartThrottling?: () => BatchPartThrottling;
  /** Each answered part of a batch, as the request events report single requests. */
  partHandled?: (handled: HandledRequest) => void;
}

export type BatchPartThrottling = 'batch' | 'part';

/**
 * Requests counted per user and per route, for inspection. `total` and `byUser` count requests as service protection
 * does (a $batch is one); `byRoute` and `byStatus` count every operation and answer, the parts of a batch included.
 */
export class RequestCounters {
  readonly byUser = new Map<string, number>();
  readonly byRoute = new Map<string, number>();
  readonly byStatus = new Map<number, number>();
  /** The last 50 error answers, newest last, for debugging a caller. */
  readonly recentErrors: Array<{ route: string; status: number; code: string; message: string }> = [];
  total = 0;
  /** Parts of batches answered. */
  batchParts = 0;
  /** The answers of $batch requests themselves, and of their parts, by status. */
  readonly batchesByStatus = new Map<number, number>();
  readonly batchPartsByStatus = new Map<number, number>();

  /** One answered part of a batch: an operation and an answer, not a request of its own. */
  part(route: string, status: number): void {
    this.batchParts++;
    this.batchPartsByStatus.set(status, (this.batchPartsByStatus.get(status) ?? 0) + 1);
    this.byRoute.set(route, (this.byRoute.get(route) ?? 0) + 1);
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }

  count(userId: string | undefined, route: string, status: number): void {
    this.total++;
    if (route === 'POST $batch') this.batchesByStatus.set(status, (this.batchesByStatus.get(status) ?? 0) + 1);
    if (userId) this.byUser.set(userId, (this.byUser.get(userId) ?? 0) + 1);
    this.byRoute.set(route, (this.byRoute.get(route) ?? 0) + 1);
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }

  error(route: string, e: DataverseError): void {
    this.recentErrors.push({ route, status: e.status, code: e.code, message: e.message });
    if (this.recentErrors.length > 50) this.recentErrors.shift();
  }

  reset(): void {
    this.recentErrors.length = 0;
    this.byUser.clear();
    this.byRoute.clear();
    this.byStatus.clear();
    this.total = 0;
    this.batchParts = 0;
    this.batchesByStatus.clear();
    this.batchPartsByStatus.clear();
  }
}

interface Cursor {
  set: string;
  ids: string[];
  pos: number;
  /** For change tracking: the delta token handed out after the last page. */
  deltaToken?: string;
  /** For change tracking deltas: ids whose last change was a delete. */
  deleted?: Set<string>;
}

interface Prefer {
  representation: boolean;
  maxPageSize: number | undefined;
  trackChanges: boolean;
  annotations: { filter: AnnotationFilter; raw: string } | undefined;
}

function parsePrefer(header: string | string[] | undefined): Prefer {
  const text = Array.isArray(header) ? header.join(',') : header ?? '';
  const page = /odata\.maxpagesize\s*=\s*(\d+)/i.exec(text);
  return {
    representation: /return\s*=\s*representation/i.test(text),
    maxPageSize: page ? Number(page[1]) : undefined,
    trackChanges: /odata\.track-changes/i.test(text),
    annotations: parseIncludeAnnotations(text),
  };
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

const CT_DATE = (ms: number) => {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
};

export class WebApi {
  private readonly cursors = new Map<string, Cursor>();

  constructor(private readonly c: WebApiContext) {}

  reset(): void {
    this.cursors.clear();
  }

  /** Handles one request under /api/data/. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const method = req.method ?? 'GET';
    let route = `${method} ?`;
    let userId: string | undefined;
    let finish: (() => void) | undefined;
    const extraHeaders: Record<string, string> = { 'OData-Version': '4.0' };
    try {
      if (!url.pathname.startsWith(API_PREFIX)) {
        throw new DataverseError(404, ErrorCodes.ODataResourceNotFound, `The simulator serves the Web API at ${API_PREFIX} only (got ${url.pathname}).`);
      }
      const path = decodeURIComponent(url.pathname.slice(API_PREFIX.length));
      route = `${method} ${routeName(path)}`;
      const verified = this.c.identity.verify(bearerToken(req), this.c.orgUrl());
      if (!verified.ok) {
        throw new DataverseError(401, '', `Authorization failed: ${verified.reason}. Use a bearer token for the scope ${this.c.orgUrl()}/.default.`, {
          'WWW-Authenticate': `Bearer authorization_uri=${this.c.identity.authority}/oauth2/authorize, resource_id=${this.c.orgUrl()}/`,
        });
      }
      const appUser = this.applicationUser(verified.claims.appid);
      userId = text(appUser['systemuserid']);
      const admitted = this.c.protection.admit(userId);
      finish = admitted.finish;
      Object.assign(extraHeaders, admitted.headers);
      const fault = this.c.faults.decide(userId, method, url.pathname);
      if (path === '$batch' && method === 'POST') {
        // One request for service protection (admitted above, its parts' time counted in it when it finishes). A
        // throttle fault is drawn once per thing that can answer 429: the batch, or under 'part' each part instead.
        if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
        const perPart = (this.c.batchPartThrottling?.() ?? 'batch') === 'part';
        const error = perPart && fault.error?.status === 429 ? undefined : fault.error;
        if (error && !fault.afterExecution) throw error;
        if (error) {
          await this.batch(req, new CapturedResponse().asServerResponse(), userId, extraHeaders).catch(() => undefined);
          throw error;
        }
        await this.batch(req, res, userId, extraHeaders);
      } else {
        await this.serve(req, res, url, method, path, userId, fault, extraHeaders);
      }
      this.c.counters.count(userId, route, res.statusCode);
    } catch (err) {
      const e = err instanceof DataverseError ? err : err instanceof BodyTooLargeError ? new DataverseError(413, ErrorCodes.InvalidArgument, err.message) : undefined;
      if (!e) throw err;
      this.c.counters.count(userId, route, e.status);
      this.c.counters.error(route, e);
      sendJson(res, e.status, e.body(), { ...extraHeaders, ...e.headers });
    } finally {
      finish?.();
    }
  }

  /** The single-request path after admission: faults, gates, the caller, the route. Batch parts take it too. */
  private async serve(req: IncomingMessage, res: ServerResponse, url: URL, method: string, path: string, userId: string, fault: RequestFaultDecision, headers: Record<string, string>): Promise<void> {
    if (fault.latencyMs > 0) await new Promise((r) => setTimeout(r, fault.latencyMs));
    if (fault.error && !fault.afterExecution) throw fault.error;
    await this.c.faults.gate(method, url.pathname);
    const caller = this.caller(req, userId, url);
    if (fault.error) {
      // A lost answer: the request is handled (its answer, even an error, goes nowhere) and the client gets the 5xx.
      await this.route(req, new CapturedResponse().asServerResponse(), url, method, path, caller, headers).catch(() => undefined);
      throw fault.error;
    }
    await this.route(req, res, url, method, path, caller, headers);
  }

  /**
   * POST $batch (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api):
   * the parts run one after another, in order, each through the single-request path as the authenticated user of
   * the batch (so faults, etags, impersonation, privileges and errors apply per part). "When an error occurs for a
   * request within a batch, the error for that request will be returned for the batch request and more requests
   * won't be processed", unless `Prefer: odata.continue-on-error`: then the batch answers 200 with every part.
   */
  private async batch(req: IncomingMessage, res: ServerResponse, userId: string, headers: Record<string, string>): Promise<void> {
    const boundary = boundaryOf(header(req, 'Content-Type'));
    if (!boundary) throw badValue('A $batch request needs Content-Type: multipart/mixed with a boundary.');
    const parts = parseBatchBody(await readBody(req, 64 * 1024 * 1024), boundary);
    if (parts.length > maxBatchRequests) {
      // ExecuteMultiple, which $batch is equivalent to: "If that limit is exceeded, a fault is thrown before the first
      // request is ever executed", naming MaxBatchSize (org-service/execute-multiple-requests). The Web API's code
      // for it is not documented: README "$batch".
      throw new DataverseError(400, ErrorCodes.InvalidArgument, `The batch has ${parts.length} requests, more than the maximum batch size (MaxBatchSize ${maxBatchRequests}).`);
    }
    const continueOnError = /odata\.continue-on-error/i.test([req.headers['prefer'] ?? ''].flat().join(','));
    const perPart = (this.c.batchPartThrottling?.() ?? 'batch') === 'part';
    // Every part's faults are drawn up front in part order, so the seeded stream does not depend on where a batch
    // stops. Under 'batch' a part is never throttled (the batch was, or was not, as a whole).
    const decisions = parts
      .map((p) => this.c.faults.decide(userId, p.method, partUrl(p.target, this.c.orgUrl())?.pathname ?? p.target))
      .map((d) => (!perPart && d.error?.status === 429 ? { ...d, error: undefined } : d));
    const answers: BatchPartResponse[] = [];
    let status = 200;
    for (const [i, part] of parts.entries()) {
      const answer = await this.part(part, decisions[i]!, userId, perPart);
      answers.push(answer);
      if (answer.status >= 400 && !continueOnError) {
        status = answer.status;
        break;
      }
    }
    const responseBoundary = `batchresponse_${this.c.ids.guid()}`;
    const text = serializeBatchResponse(answers, responseBoundary);
    res.writeHead(status, { ...headers, 'Content-Type': `multipart/mixed; boundary=${responseBoundary}`, 'Content-Length': String(Buffer.byteLength(text)) });
    res.end(text);
  }

  /** One part of a batch through the single-request path; its error, if any, becomes its answer. */
  private async part(part: BatchPartRequest, fault: RequestFaultDecision, userId: string, perPart: boolean): Promise<BatchPartResponse> {
    const url = partUrl(part.target, this.c.orgUrl());
    const path = url?.pathname.startsWith(API_PREFIX) ? decodeURIComponent(url.pathname.slice(API_PREFIX.length)) : undefined;
    const route = `${part.method} ${path === undefined ? '?' : routeName(path)}`;
    const sink = new CapturedResponse();
    const headers: Record<string, string> = { 'OData-Version': '4.0' };
    try {
      if (!url || path === undefined) throw new DataverseError(404, ErrorCodes.ODataResourceNotFound, `A batch part must address the Web API at ${API_PREFIX}.`);
      if (path === '$batch') throw badValue('Batch requests cannot contain other batch requests.');
      if (perPart) this.c.protection.check(userId);
      await this.serve(partRequest(part, url), sink.asServerResponse(), url, part.method, path, userId, fault, headers);
      this.c.counters.part(route, sink.status);
    } catch (err) {
      const e = err instanceof DataverseError ? err : err instanceof BodyTooLargeError ? new DataverseError(413, ErrorCodes.InvalidArgument, err.message) : undefined;
      if (!e) throw err;
      this.c.counters.part(route, e.status);
      this.c.counters.error(route, e);
      sink.reset();
      sendJson(sink.asServerResponse(), e.status, e.body(), { ...headers, ...e.headers });
    }
    const method = part.method.toUpperCase();
    this.c.partHandled?.({ method, path: url?.pathname ?? part.target, status: sink.status, write: !['GET', 'HEAD', 'OPTIONS'].includes(method) && sink.status >= 200 && sink.status < 300 });
    return { status: sink.status, headers: sink.headers, body: sink.body };
  }

  private applicationUser(appId: string): Row {
    const users = this.c.store.table('systemuser');
    const ids = users.idsWhere('applicationid', appId) ?? new Set<string>();
    const first = [...ids][0];
    const user = first ? users.get(first) : undefined;
    if (!user) {
      throw new DataverseError(403, ErrorCodes.UserNotInOrganization, `The user is not a member of the organization. No application user has applicationid ${appId}; seed one with the admin API.`);
    }
    if (user['isdisabled'] === true) throw new DataverseError(403, ErrorCodes.UserDisabled, `The user with SystemUserId=${text(user['systemuserid'])} is disabled.`);
    return user;
  }

  /** The caller: impersonation via CallerObjectId (Entra object id) or MSCRMCallerID (systemuserid), and ?tag=. */
  private caller(req: IncomingMessage, authenticatedUserId: string, url: URL): Caller {
    const users = this.c.store.table('systemuser');
    let userId = authenticatedUserId;
    const objectId = header(req, 'CallerObjectId');
    const callerId = header(req, 'MSCRMCallerID');
    if (objectId !== undefined) {
      if (!isGuid(objectId)) throw badValue(`The CallerObjectId header must be a GUID; got '${objectId}'.`);
      const id = [...(users.idsWhere('azureactivedirectoryobjectid', objectId.toLowerCase()) ?? [])][0];
      if (!id) throw new DataverseError(404, ErrorCodes.ObjectDoesNotExist, `systemuser With azureactivedirectoryobjectid = ${objectId} Does Not Exist`);
      userId = id;
    } else if (callerId !== undefined) {
      if (!isGuid(callerId)) throw badValue(`The MSCRMCallerID header must be a GUID; got '${callerId}'.`);
      if (!users.get(callerId)) throw notFound('systemuser', callerId.toLowerCase());
      userId = callerId.toLowerCase();
    }
    if (users.get(userId)?.['isdisabled'] === true) throw new DataverseError(403, ErrorCodes.UserDisabled, `The user with SystemUserId=${userId} is disabled.`);
    return { authenticatedUserId, userId, tag: url.searchParams.get('tag') ?? undefined, correlationId: this.c.ids.guid() };
  }

  private async route(req: IncomingMessage, res: ServerResponse, url: URL, method: string, path: string, caller: Caller, headers: Record<string, string>): Promise<void> {
    const org = this.c.orgUrl();
    if (path === 'WhoAmI' || path === 'WhoAmI()') {
      if (method !== 'GET') throw new DataverseError(405, ErrorCodes.ODataNotSupported, 'WhoAmI is a function: use GET.');
      sendJson(
        res,
        200,
        { '@odata.context': `${org}${API_PREFIX}$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse`, BusinessUnitId: this.c.businessUnitId, UserId: caller.userId, OrganizationId: this.c.organizationId },
        headers,
      );
      return;
    }
    const privileges = /^systemusers\(([^)]*)\)\/Microsoft\.Dynamics\.CRM\.RetrieveUserPrivileges(?:\(\))?$/.exec(path);
    if (privileges && this.c.privileges) {
      // webapi/reference/retrieveuserprivileges: a function bound to systemuser, answering RolePrivileges.
      if (method !== 'GET') throw new DataverseError(405, ErrorCodes.ODataNotSupported, 'RetrieveUserPrivileges is a function: use GET.');
      const userId = privileges[1]!.toLowerCase();
      if (!isGuid(userId)) throw badQuery(`The key '${privileges[1]!}' of 'systemusers' must be a GUID.`);
      if (!this.c.store.table('systemuser').get(userId)) throw notFound('systemuser', userId);
      const RolePrivileges = this.c.privileges.of(userId).map((p) => ({ Depth: p.depth, PrivilegeId: privilegeId(p.name), BusinessUnitId: this.c.businessUnitId, PrivilegeName: p.name }));
      sendJson(res, 200, { '@odata.context': `${org}${API_PREFIX}$metadata#Microsoft.Dynamics.CRM.RetrieveUserPrivilegesResponse`, RolePrivileges }, headers);
      return;
    }
    if (path === '$batch') throw new DataverseError(405, ErrorCodes.ODataNotSupported, '$batch takes POST.');
    const action = /^(?:([A-Za-z_]+)\(([^)]*)\)\/Microsoft\.Dynamics\.CRM\.)?(AddRecurrence|DeleteOpenInstances)$/.exec(path);
    if (action && this.c.series) return this.seriesAction(req, res, method, action, caller, headers);
    const send = /^emails\(([^)]*)\)\/Microsoft\.Dynamics\.CRM\.SendEmail$/.exec(path);
    if (send && this.c.email) {
      // webapi/reference/sendemail: bound to email, POST, answers SendEmailResponse { Subject }.
      if (method !== 'POST') throw new DataverseError(405, ErrorCodes.ODataNotSupported, 'SendEmail is an action: use POST.');
      const result = this.c.email.sendEmail(send[1]!, await this.readJson(req), caller);
      sendJson(res, 200, { '@odata.context': `${org}${API_PREFIX}$metadata#Microsoft.Dynamics.CRM.SendEmailResponse`, ...result }, headers);
      return;
    }
    const m = /^([A-Za-z_]+)(?:\(([^)]*)\))?(?:\/([A-Za-z_]+))?$/.exec(path);
    const def = m ? entityBySet.get(m[1]!) : undefined;
    if (!m || !def) throw new DataverseError(404, ErrorCodes.ODataResourceNotFound, `Resource not found for the segment '${path.split(/[(/]/)[0]}'.`);
    const keyText = m[2];
    const nav = m[3];
    const prefer = parsePrefer(req.headers['prefer']);
    if (prefer.annotations) headers['Preference-Applied'] = `odata.include-annotations="${prefer.annotations.raw}"`;
    if (keyText === undefined) {
      if (nav) throw new DataverseError(404, ErrorCodes.ODataResourceNotFound, `Resource not found for the segment '${nav}'.`);
      if (method === 'GET') return this.list(res, url, def, prefer, headers);
      if (method === 'POST') {
        this.checkPrivilege(caller, 'Create', def);
        const body = await this.readJson(req, this.bodyLimit(def));
        const row = this.c.engine.create(def, body, caller);
        return this.written(res, url, def, row, prefer, headers, 201);
      }
      throw new DataverseError(405, ErrorCodes.ODataNotSupported, `${method} is not supported on the collection '${def.setName}'.`);
    }
    const id = keyText.toLowerCase();
    if (!isGuid(id)) throw badQuery(`The key '${keyText}' of '${def.setName}' must be a GUID (alternate keys are not simulated).`);
    if (nav) {
      if (method !== 'GET' || def.activity?.partyNav !== nav) throw new DataverseError(404, ErrorCodes.ODataResourceNotFound, `Resource not found for the segment '${nav}'.`);
      if (!this.c.engine.get(def, id)) throw notFound(def.logicalName, id);
      const partyDef = entityByLogicalName.get('activityparty')!;
      const select = parseSelect(partyDef, url.searchParams.get('$select'));
      const value = this.c.engine.partiesOf(id).map((p) => this.json(partyDef, p, select, prefer.annotations?.filter));
      sendJson(res, 200, { '@odata.context': `${org}${API_PREFIX}$metadata#activityparties${contextSelect(select)}`, value }, headers);
      return;
    }
    if (method === 'GET') {
      const row = this.c.engine.get(def, id);
      if (!row) throw notFound(def.logicalName, id);
      const select = parseSelect(def, url.searchParams.get('$select'));
      const expand = parseExpand(def, url.searchParams.get('$expand'));
      const body = { '@odata.context': `${org}${API_PREFIX}$metadata#${def.setName}${contextSelect(select)}/$entity`, ...this.json(def, row, select, prefer.annotations?.filter, expand) };
      sendJson(res, 200, body, { ...headers, ETag: `W/"${text(row['versionnumber'])}"` });
      return;
    }
    if (method === 'PATCH') {
      // An upsert of a record that does not exist creates it.
      this.checkPrivilege(caller, this.c.engine.get(def, id) ? 'Write' : 'Create', def);
      const body = await this.readJson(req, this.bodyLimit(def));
      const { row, created } = this.c.engine.update(def, id, body, caller, {
        upsert: true,
        ifMatch: header(req, 'If-Match'),
        ifNoneMatch: header(req, 'If-None-Match'),
      });
      return this.written(res, url, def, row, prefer, headers, created ? 201 : 200);
    }
    if (method === 'DELETE') {
      this.checkPrivilege(caller, 'Delete', def);
      this.c.engine.remove(def, id, caller, { ifMatch: header(req, 'If-Match') });
      res.writeHead(204, headers);
      res.end();
      return;
    }
    throw new DataverseError(405, ErrorCodes.ODataNotSupported, `${method} is not supported on '${def.setName}(${id})'.`);
  }

  /**
   * With enforcement on (privileges.ts): the user the write runs as needs the table's privilege, and an application
   * user acting as another user needs prvActOnBehalfOfAnotherUser; else 403 PrivilegeDenied naming the privilege.
   */
  private checkPrivilege(caller: Caller, action: 'Create' | 'Write' | 'Delete', def: EntityDef): void {
    const book = this.c.privileges;
    if (!book?.enforcing) return;
    const needs: [string, string][] = [];
    if (caller.userId !== caller.authenticatedUserId) needs.push([caller.authenticatedUserId, 'prvActOnBehalfOfAnotherUser']);
    const name = writePrivilege(action, { logicalName: def.logicalName, isActivity: def.activity !== undefined });
    if (name) needs.push([caller.userId, name]);
    for (const [userId, privilege] of needs) {
      if (!book.holds(userId, privilege)) {
        throw new DataverseError(403, ErrorCodes.PrivilegeDenied, `Principal user (Id=${userId}, type=8) is missing ${privilege} privilege (Id=${privilegeId(privilege)})`);
      }
    }
  }

  /**
   * The series actions (webapi/reference/addrecurrence, deleteopeninstances): POST
   * `appointments(<id>)/Microsoft.Dynamics.CRM.AddRecurrence` { Target } answers the new recurringappointmentmaster;
   * POST `DeleteOpenInstances` { Target, SeriesEndDate, StateOfPastInstances } (or bound to
   * `recurringappointmentmasters(<id>)`) answers 204.
   */
  private async seriesAction(req: IncomingMessage, res: ServerResponse, method: string, m: RegExpExecArray, caller: Caller, headers: Record<string, string>): Promise<void> {
    const [, set, key, name] = m;
    if (method !== 'POST') throw new DataverseError(405, ErrorCodes.ODataNotSupported, `${name!} is an action: use POST.`);
    if (key !== undefined && !isGuid(key)) throw badQuery(`The key '${key}' of '${set!}' must be a GUID.`);
    const body = await this.readJson(req);
    const series = this.c.series!;
    if (name === 'AddRecurrence') {
      if (set !== 'appointments' || key === undefined) throw new DataverseError(404, ErrorCodes.ODataResourceNotFound, 'AddRecurrence is bound to an appointment: POST appointments(<id>)/Microsoft.Dynamics.CRM.AddRecurrence.');
      const row = series.addRecurrence(key, body, caller);
      const def = entityByLogicalName.get('recurringappointmentmaster')!;
      sendJson(res, 200, { '@odata.context': `${this.c.orgUrl()}${API_PREFIX}$metadata#recurringappointmentmasters/$entity`, ...this.json(def, row, undefined, undefined) }, headers);
      return;
    }
    if (set !== undefined && set !== 'recurringappointmentmasters') throw new DataverseError(404, ErrorCodes.ODataResourceNotFound, `DeleteOpenInstances applies to recurringappointmentmasters, not '${set}'.`);
    series.deleteOpenInstances(key, body, caller);
    res.writeHead(204, headers);
    res.end();
  }

  /** Answers a create or update: 204 with OData-EntityId, or the row with Prefer: return=representation. */
  private written(res: ServerResponse, url: URL, def: EntityDef, row: Row, prefer: Prefer, headers: Record<string, string>, status: 200 | 201): void {
    const id = text(row[def.primaryId]);
    const entityId = `${this.c.orgUrl()}${API_PREFIX}${def.setName}(${id})`;
    if (prefer.representation) {
      const select = parseSelect(def, url.searchParams.get('$select'));
      const expand = parseExpand(def, url.searchParams.get('$expand'));
      const body = { '@odata.context': `${this.c.orgUrl()}${API_PREFIX}$metadata#${def.setName}${contextSelect(select)}/$entity`, ...this.json(def, row, select, prefer.annotations?.filter, expand) };
      const applied = ['return=representation', ...(headers['Preference-Applied'] ? [headers['Preference-Applied']] : [])].join(',');
      sendJson(res, status, body, { ...headers, 'Preference-Applied': applied, 'OData-EntityId': entityId, ETag: `W/"${text(row['versionnumber'])}"` });
      return;
    }
    res.writeHead(204, { ...headers, 'OData-EntityId': entityId });
    res.end();
  }

  /** Attachments carry their file as Base64 in the body: allow the organization's upload size (4/3 of it) plus room. */
  private bodyLimit(def: EntityDef): number | undefined {
    if (def.logicalName !== 'activitymimeattachment' || !this.c.email) return undefined;
    return Math.max(4 * 1024 * 1024, Math.ceil((this.c.email.maxUploadFileSize() * 4) / 3) + 1024 * 1024);
  }

  private async readJson(req: IncomingMessage, limitBytes?: number): Promise<unknown> {
    const text = await readBody(req, limitBytes);
    if (!text.trim()) throw badValue('The request body is empty; a JSON object is required.');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw badValue('The request body is not valid JSON.');
    }
  }

  private nameOf = (ref: LookupRef): string | null => {
    const def = entityByLogicalName.get(ref.logicalName);
    if (!def) return null;
    const row = this.c.store.table(ref.logicalName).get(ref.id);
    const v = row?.[def.primaryName];
    return typeof v === 'string' ? v : null;
  };

  private json(def: EntityDef, row: Row, select: Column[] | undefined, annotations: AnnotationFilter | undefined, expand: ExpandParties[] = []): Record<string, unknown> {
    const out = rowToJson(def, row, { select, annotations, nameOf: this.nameOf });
    for (const e of expand) {
      const partyDef = entityByLogicalName.get('activityparty')!;
      const parties = this.c.engine.partiesOf(text(row[def.primaryId])).filter((p) => !e.filter || matches(e.filter, p, this.c.engine.evalContext));
      out[e.nav] = parties.map((p) => rowToJson(partyDef, p, { select: e.select, annotations, nameOf: this.nameOf }));
    }
    return out;
  }

  /** GET on a collection: a query, a change-tracking start (Prefer: odata.track-changes), a delta, or a next page. */
  private list(res: ServerResponse, url: URL, def: EntityDef, prefer: Prefer, headers: Record<string, string>): void {
    const params = url.searchParams;
    const skiptoken = params.get('$skiptoken');
    const deltatoken = params.get('$deltatoken');
    const select = parseSelect(def, params.get('$select'));
    const expand = parseExpand(def, params.get('$expand'));
    const pageSize = Math.max(1, Math.min(prefer.maxPageSize ?? this.c.maxPageSize(), this.c.maxPageSize()));
    if (prefer.maxPageSize !== undefined) headers['Preference-Applied'] = [headers['Preference-Applied'], `odata.maxpagesize=${pageSize}`].filter(Boolean).join(',');
    let cursor: Cursor;
    let isDelta = false;
    if (skiptoken !== null) {
      const found = this.cursors.get(skiptoken);
      if (!found || found.set !== def.setName) throw badQuery(`The $skiptoken '${skiptoken}' is not valid (unknown or expired paging cookie).`);
      cursor = found;
      isDelta = cursor.deleted !== undefined;
    } else if (deltatoken !== null || prefer.trackChanges) {
      if (!def.changeTracking) throw badQuery(`Change tracking is not enabled for '${def.logicalName}'.`);
      for (const k of params.keys()) {
        // use-change-tracking-synchronize-data-external-systems.md: only $select may accompany change tracking.
        if (k.startsWith('$') && k !== '$select' && k !== '$deltatoken') throw badQuery(`The query option '${k}' is not supported with change tracking; only $select is.`);
      }
      headers['Preference-Applied'] = [headers['Preference-Applied'], 'odata.track-changes'].filter(Boolean).join(',');
      const table = this.c.store.table(def.logicalName);
      const nextToken = this.deltaToken();
      if (deltatoken !== null) {
        const since = this.checkDeltaToken(deltatoken);
        const changes = table.changesSince(since);
        cursor = { set: def.setName, ids: changes.map((ch) => ch.id), pos: 0, deltaToken: nextToken, deleted: new Set(changes.filter((ch) => ch.deleted || !table.get(ch.id)).map((ch) => ch.id)) };
        isDelta = true;
      } else {
        cursor = { set: def.setName, ids: [...table.rows.keys()], pos: 0, deltaToken: nextToken };
      }
    } else {
      if (params.has('$top') && !/^\d+$/.test(params.get('$top')!)) throw badQuery(`$top must be a non-negative integer; got '${params.get('$top')}'.`);
      const filterText = params.get('$filter');
      const filter = filterText !== null ? parseFilter(def, filterText) : undefined;
      const orderBy = parseOrderBy(def, params.get('$orderby') ?? '');
      const top = params.get('$top');
      let rows = this.c.engine.query(def, filter, orderBy, top !== null ? Number(top) : Infinity);
      if (top !== null) rows = rows.slice(0, Number(top));
      cursor = { set: def.setName, ids: rows.map((r) => text(r[def.primaryId])), pos: 0 };
    }
    const table = this.c.store.table(def.logicalName);
    const value: unknown[] = [];
    const org = this.c.orgUrl();
    while (cursor.pos < cursor.ids.length && value.length < pageSize) {
      const id = cursor.ids[cursor.pos++]!;
      if (cursor.deleted?.has(id)) {
        value.push({ '@odata.context': `${org}${API_PREFIX}$metadata#${def.setName}/$deletedEntity`, id, reason: 'deleted' });
        continue;
      }
      const row = table.get(id);
      if (row) value.push(this.json(def, row, select, prefer.annotations?.filter, expand));
    }
    const body: Record<string, unknown> = { '@odata.context': `${org}${API_PREFIX}$metadata#${def.setName}${contextSelect(select)}${isDelta ? '/$delta' : ''}` };
    if (cursor.pos < cursor.ids.length) {
      const token = skiptoken ?? this.c.ids.guid();
      this.cursors.set(token, cursor);
      if (this.cursors.size > 500) this.cursors.delete(this.cursors.keys().next().value!);
      // The next page keeps the caller's query as sent, plus the paging cookie.
      const kept = url.search.slice(1).split('&').filter((p) => p && !/^(\$|%24)(skiptoken|deltatoken)=/i.test(p));
      body['@odata.nextLink'] = `${org}${API_PREFIX}${def.setName}?${[...kept, `$skiptoken=${dataverseEncode(token)}`].join('&')}`;
    } else {
      if (skiptoken !== null) this.cursors.delete(skiptoken);
      if (cursor.deltaToken) {
        const link = [...(select ? [`$select=${params.get('$select')!}`] : []), `$deltatoken=${dataverseEncode(cursor.deltaToken)}`];
        body['@odata.deltaLink'] = `${org}${API_PREFIX}${def.setName}?${link.join('&')}`;
      }
    }
    body['value'] = value;
    sendJson(res, 200, body, headers);
  }

  /** A delta token in Dataverse's form: `<version>!<MM/dd/yyyy HH:mm:ss>` (samples/dataverse-changetracking-initial.json). */
  private deltaToken(): string {
    return `${this.c.store.currentVersion()}!${CT_DATE(this.c.now())}`;
  }

  private checkDeltaToken(token: string): number {
    const m = /^(\d+)!(\d{2})\/(\d{2})\/(\d{4}) (\d{2}):(\d{2}):(\d{2})$/.exec(token);
    if (!m) throw badQuery(`The $deltatoken '${token}' is not valid.`);
    const version = Number(m[1]);
    const issued = Date.UTC(Number(m[4]), Number(m[2]) - 1, Number(m[3]), Number(m[5]), Number(m[6]), Number(m[7]));
    if (this.c.now() - issued > this.c.changeTrackingTtlMs() || version <= this.c.evictedBelowVersion()) {
      throw new DataverseError(400, ErrorCodes.ExpiredVersionStamp, 'Version stamp associated with the client has expired. Please perform a full sync.');
    }
    return version;
  }
}

/** Percent-encoding as in the documented delta link: `919042%2108%2f22%2f2017%2008%3a10%3a44` ("!" too, lower-case hex). */
function dataverseEncode(value: string): string {
  return encodeURIComponent(value)
    .replace(/!/g, '%21')
    .replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
}

/** The route a request is counted under: `appointments`, `appointments(id)`, `appointments(id)/nav`, `WhoAmI`. */
function routeName(path: string): string {
  return path.replace(/\([^)]*\)/, '(id)');
}


/** A part's request target as a URL: absolute, from the root, or relative to the service root (OData 4.0 11.7.2). */
function partUrl(target: string, orgUrl: string): URL | undefined {
  try {
    return new URL(target, `${orgUrl}${API_PREFIX}`);
  } catch {
    return undefined;
  }
}

/** A batch part as the request the single-request path reads: its headers, method, URL and body stream. */
function partRequest(part: BatchPartRequest, url: URL): IncomingMessage {
  const stream = Readable.from(part.body ? [Buffer.from(part.body, 'utf8')] : []);
  return Object.assign(stream, { headers: part.headers, method: part.method, url: `${url.pathname}${url.search}` }) as unknown as IncomingMessage;
}

/** Collects what a route writes (status, headers, body) for a batch part or a lost answer, instead of a socket. */
class CapturedResponse {
  status = 200;
  headers: Record<string, string> = {};
  body = '';

  reset(): void {
    this.status = 200;
    this.headers = {};
    this.body = '';
  }

  /** The subset of ServerResponse the routes use: statusCode, writeHead and end. */
  asServerResponse(): ServerResponse {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    const res = {
      get statusCode() {
        return self.status;
      },
      headersSent: false,
      writeHead(status: number, headers?: Record<string, string>) {
        self.status = status;
        for (const [k, v] of Object.entries(headers ?? {})) self.headers[k] = String(v);
        res.headersSent = true;
        return res;
      },
      end(chunk?: string) {
        if (typeof chunk === 'string') self.body += chunk;
        return res;
      },
    };
    return res as unknown as ServerResponse;
  }
}
