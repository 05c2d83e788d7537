// Webhook delivery as Dataverse does it for asynchronous steps on a Webhook service endpoint (PAD use-webhooks.md,
// register-web-hook.md; docs/reference/platform-facts.md section 5): the RemoteExecutionContext JSON (samples/dataverse-webhook-
// remoteexecutioncontext.json: WCF value formats, [{key,value}] collections), the documented headers, the endpoint's
// authentication, a 60 s timeout, one more attempt only on 502/503/504, and bodies over 256 KB sent without
// ParentContext, InputParameters and images plus the x-ms-dynamics-msg-size-exceeded header.
import type { Caller, Message, Snapshot, WriteEvent } from './engine.js';
import { parseAuthSettings } from './engine.js';
import type { IdSource, Prng } from './prng.js';
import { entityDef, type EntityDef } from './schema.js';
import { isLookup, text, type LookupRef, type Row, type Store, type Value } from './store.js';

const CONTRACTS = 'http://schemas.microsoft.com/xrm/2011/Contracts';

/** Fault plan for webhook deliveries; each delivery draws its decisions from the seeded stream in order. */
export interface WebhookFaults {
  /** Not sent at all (recorded as dropped). */
  dropProbability?: number;
  /** Sent twice (the copy is recorded with duplicateOf). */
  duplicateProbability?: number;
  /** Held for `ms` before it is queued. */
  delay?: { probability: number; ms: number };
  /** Held back until the next delivery has been sent. */
  reorderProbability?: number;
}

export interface DeliveryAttempt {
  status?: number;
  error?: string;
  startedAt: string;
  durationMs: number;
}

export interface WebhookDelivery {
  sequence: number;
  /** The x-request-id header value. */
  requestId: string;
  stepId: string;
  stepName: string;
  serviceEndpointId: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  message: string;
  entity: string;
  recordId: string;
  correlationId: string;
  tag: string | undefined;
  initiatingUserId: string;
  userId: string;
  state: 'pending' | 'delivered' | 'failed' | 'dropped';
  attempts: DeliveryAttempt[];
  faults: string[];
  sizeExceeded: boolean;
  duplicateOf?: number;
  /** How often a failed delivery was queued again (the `redelivery` option; 0 without it). */
  redeliveries: number;
}

/**
 * Failed deliveries sent again: up to `attempts` more times, the first `afterMs` after the failure, each wait twice the
 * one before. Microsoft documents only the one more attempt on 502/503/504 (use-webhooks.md "Troubleshoot"); whether
 * the asynchronous service runs a failed webhook's system job again is not documented, so this is an open behaviour,
 * off by default (README "Webhooks").
 */
export interface WebhookRedelivery {
  attempts: number;
  afterMs: number;
}

export interface DispatcherOptions {
  store: Store;
  ids: IdSource;
  faults: () => Prng;
  organizationId: string;
  organizationName: string;
  organizationDomain: string;
  businessUnitId: string;
  timeoutMs: () => number;
  maxBodyBytes: () => number;
  /** Who InitiatingUserId names under impersonation (see README). */
  initiatingUser: () => 'impersonated' | 'caller';
  /** Whether the request's `tag` reaches the body's SharedVariables (an open behaviour; see README). */
  carriesTag: () => boolean;
  concurrency: number;
  now: () => number;
  /** Failed deliveries sent again (an open behaviour; undefined: never). */
  redelivery?: () => WebhookRedelivery | undefined;
}

interface Waiter {
  predicate: (d: WebhookDelivery) => boolean;
  count: number;
  resolve: (d: WebhookDelivery[]) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** WCF DataContractJsonSerializer date: "/Date(ms)/" (escaped as "\/Date(ms)\/" on the wire). */
function wcfDate(ms: number): string {
  return `/Date(${ms})/`;
}

function entityReference(ref: LookupRef, withType = true): Record<string, unknown> {
  return {
    ...(withType ? { __type: `EntityReference:${CONTRACTS}` } : {}),
    Id: ref.id,
    KeyAttributes: [],
    LogicalName: ref.logicalName,
    Name: null,
    RowVersion: null,
  };
}

function optionSet(value: number): Record<string, unknown> {
  return { __type: `OptionSetValue:${CONTRACTS}`, Value: value };
}

export class WebhookDispatcher {
  private sequence = 0;
  private readonly records: WebhookDelivery[] = [];
  private readonly queue: WebhookDelivery[] = [];
  private held: WebhookDelivery | undefined;
  private heldTimer: NodeJS.Timeout | undefined;
  private readonly delayed = new Set<NodeJS.Timeout>();
  private active = 0;
  private waiters: Waiter[] = [];
  private idleWaiters: Array<() => void> = [];
  private faultPlan: WebhookFaults = {};
  private closed = false;

  constructor(private readonly o: DispatcherOptions) {}

  setFaults(plan: WebhookFaults | undefined): void {
    this.faultPlan = plan ?? {};
  }

  /** All deliveries so far (newest last). */
  deliveries(): readonly WebhookDelivery[] {
    return this.records;
  }

  /** Finds the steps an event triggers and queues one delivery per step. */
  handle(event: WriteEvent): void {
    if (this.closed || !event.def.raisesEvents) return;
    for (const step of this.matchingSteps(event)) this.enqueueNew(this.buildDelivery(event, step));
  }

  private matchingSteps(event: WriteEvent): Array<{ step: Row; endpoint: Row; messageName: string }> {
    const steps = this.o.store.table('sdkmessageprocessingstep');
    const messages = this.o.store.table('sdkmessage');
    const filters = this.o.store.table('sdkmessagefilter');
    const endpoints = this.o.store.table('serviceendpoint');
    const accepted: Message[] | string[] = event.message === 'SetState' ? ['SetState', 'SetStateDynamicEntity'] : [event.message];
    const out: Array<{ step: Row; endpoint: Row; messageName: string }> = [];
    for (const step of steps.rows.values()) {
      if (step['statecode'] !== 0) continue;
      const messageRef = step['sdkmessageid'];
      const messageName = isLookup(messageRef) ? messages.get(messageRef.id)?.['name'] : undefined;
      if (typeof messageName !== 'string' || !(accepted as string[]).includes(messageName)) continue;
      const filterRef = step['sdkmessagefilterid'];
      if (isLookup(filterRef)) {
        const filter = filters.get(filterRef.id);
        if (!filter || filter['primaryobjecttypecode'] !== event.def.logicalName) continue;
      }
      const handlerRef = step['eventhandler'];
      const endpoint = isLookup(handlerRef) && handlerRef.logicalName === 'serviceendpoint' ? endpoints.get(handlerRef.id) : undefined;
      if (!endpoint || endpoint['contract'] !== 8) continue;
      if (event.message === 'Update') {
        // A step with filtering attributes runs only when the update carries one of them (use-webhooks.md sample step).
        const filtering = typeof step['filteringattributes'] === 'string' ? step['filteringattributes'].split(',').map((s) => s.trim().toLowerCase()).filter(Boolean) : [];
        if (filtering.length && !event.sent.some((n) => filtering.includes(n.toLowerCase()))) continue;
      }
      out.push({ step, endpoint, messageName });
    }
    out.sort((a, b) => Number(a.step['rank'] ?? 0) - Number(b.step['rank'] ?? 0));
    return out;
  }

  private buildDelivery(event: WriteEvent, m: { step: Row; endpoint: Row; messageName: string }): WebhookDelivery {
    const stepId = text(m.step['sdkmessageprocessingstepid']);
    const impersonating = m.step['impersonatinguserid'];
    const caller: Caller = event.caller;
    const initiatingUserId = this.o.initiatingUser() === 'caller' ? caller.authenticatedUserId : caller.userId;
    // "Run in User's Context": the step's impersonating user, else the calling user (PAD impersonate-a-user.md).
    const userId = isLookup(impersonating) ? impersonating.id : caller.userId;
    const operationId = this.o.ids.guid();
    const common = {
      BusinessUnitId: this.o.businessUnitId,
      CorrelationId: caller.correlationId,
      Depth: 1,
      InitiatingUserId: initiatingUserId,
    };
    const { input, output } = this.parameters(event, m.messageName);
    const owning = { Id: stepId, KeyAttributes: [], LogicalName: 'sdkmessageprocessingstep', Name: null, RowVersion: null };
    // Whether an asynchronous webhook carries the request's tag is not documented (it is documented for plug-ins):
    // an option, so the product is tested both ways (README "Webhooks").
    const tagVar = caller.tag !== undefined && this.o.carriesTag() ? [{ key: 'tag', value: caller.tag }] : [];
    const tail = (stage: number) => ({
      IsExecutingOffline: false,
      IsInTransaction: false,
      IsOfflinePlayback: false,
      IsolationMode: 1,
      MessageName: m.messageName,
      Mode: 1,
      OperationCreatedOn: wcfDate(event.operationCreatedOn),
      OperationId: operationId,
      OrganizationId: this.o.organizationId,
      OrganizationName: this.o.organizationName,
      OutputParameters: stage === 40 ? output : [],
      OwningExtension: owning,
    });
    const parent = {
      ...common,
      InputParameters: [...input, { key: 'SuppressDuplicateDetection', value: false }],
      ...tail(30),
      ParentContext: null,
      PostEntityImages: [],
      PreEntityImages: [],
      PrimaryEntityId: event.id,
      PrimaryEntityName: event.def.logicalName,
      RequestId: null,
      SecondaryEntityName: 'none',
      SharedVariables: [
        { key: 'ChangedEntityTypes', value: [{ __type: 'KeyValuePairOfstringstring:#System.Collections.Generic', key: event.def.logicalName, value: m.messageName }] },
        ...tagVar,
      ],
      Stage: 30,
      UserId: userId,
    };
    const { pre, post } = this.images(event, m.step, stepId);
    const context: Record<string, unknown> = {
      ...common,
      InputParameters: input,
      ...tail(40),
      ParentContext: parent,
      PostEntityImages: post,
      PreEntityImages: pre,
      PrimaryEntityId: event.id,
      PrimaryEntityName: event.def.logicalName,
      RequestId: null,
      SecondaryEntityName: 'none',
      SharedVariables: tagVar,
      Stage: 40,
      UserId: userId,
    };
    let body = wcfJson(context);
    let sizeExceeded = false;
    if (Buffer.byteLength(body) > this.o.maxBodyBytes()) {
      // use-webhooks.md [!IMPORTANT]: these four properties are removed and the header is added.
      delete context['ParentContext'];
      delete context['InputParameters'];
      delete context['PreEntityImages'];
      delete context['PostEntityImages'];
      body = wcfJson(context);
      sizeExceeded = true;
    }
    const requestId = this.o.ids.guid();
    const { url, headers } = this.addressing(m.endpoint);
    Object.assign(headers, {
      'content-type': 'application/json',
      'x-ms-dynamics-organization': this.o.organizationDomain,
      'x-ms-dynamics-entity-name': event.def.logicalName,
      'x-ms-dynamics-request-name': m.messageName,
      'x-ms-correlation-request-id': caller.correlationId,
      'x-request-id': requestId,
      ...(sizeExceeded ? { 'x-ms-dynamics-msg-size-exceeded': 'true' } : {}),
    });
    return {
      sequence: 0,
      requestId,
      stepId,
      stepName: text(m.step['name']),
      serviceEndpointId: text(m.endpoint['serviceendpointid']),
      url,
      headers,
      body,
      message: m.messageName,
      entity: event.def.logicalName,
      recordId: event.id,
      correlationId: caller.correlationId,
      tag: caller.tag,
      initiatingUserId,
      userId,
      state: 'pending',
      attempts: [],
      faults: [],
      sizeExceeded,
      redeliveries: 0,
    };
  }

  /** The endpoint URL and headers with the service endpoint's authentication applied (register-web-hook.md). */
  private addressing(endpoint: Row): { url: string; headers: Record<string, string> } {
    const url = new URL(text(endpoint['url']));
    const headers: Record<string, string> = {};
    const authvalue = text(endpoint['authvalue']);
    if (endpoint['authtype'] === 4) url.searchParams.set('code', authvalue);
    else if (endpoint['authtype'] === 6) for (const s of parseAuthSettings(authvalue)) url.searchParams.append(s.name, s.value);
    else if (endpoint['authtype'] === 5) for (const s of parseAuthSettings(authvalue)) headers[s.name.toLowerCase()] = s.value;
    return { url: url.toString(), headers };
  }

  private parameters(event: WriteEvent, messageName: string): { input: unknown[]; output: unknown[] } {
    const ref: LookupRef = { id: event.id, logicalName: event.def.logicalName };
    if (event.message === 'Delete') return { input: [{ key: 'Target', value: entityReference(ref) }], output: [] };
    if (event.message === 'SetState') {
      const state = event.post?.row['statecode'];
      const status = event.post?.row['statuscode'];
      return {
        input: [
          { key: 'EntityMoniker', value: entityReference(ref) },
          { key: 'State', value: optionSet(Number(state)) },
          { key: 'Status', value: optionSet(Number(status)) },
        ],
        output: [],
      };
    }
    void messageName;
    const target = toEntity(event.def, event.id, event.target, true);
    if (event.extra) {
      // The series actions (AddRecurrence, DeleteOpenInstances): Target plus the message's own parameters.
      const wcf = (values: Record<string, Value> | undefined) =>
        Object.entries(values ?? {}).map(([key, v]) => ({ key, value: isLookup(v) ? entityReference(v) : typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? wcfDate(Date.parse(v)) : v }));
      // SendEmail carries EmailId/IssueSend/TrackingToken and no Target (SendEmailRequest).
      const head = event.extra.withoutTarget ? [] : [{ key: 'Target', value: target }];
      return { input: [...head, ...wcf(event.extra.input)], output: wcf(event.extra.output) };
    }
    return { input: [{ key: 'Target', value: target }], output: event.message === 'Create' ? [{ key: 'id', value: event.id }] : [] };
  }

  private images(event: WriteEvent, step: Row, stepId: string): { pre: unknown[]; post: unknown[] } {
    const pre: unknown[] = [];
    const post: unknown[] = [];
    const images = this.o.store.table('sdkmessageprocessingstepimage');
    for (const imageId of images.idsWhere('sdkmessageprocessingstepid', { id: stepId, logicalName: '' }) ?? []) {
      const image = images.get(imageId);
      if (!image) continue;
      const alias = text(image['entityalias']);
      const attributes = typeof image['attributes'] === 'string' && image['attributes'].trim() ? image['attributes'].split(',').map((s) => s.trim().toLowerCase()) : undefined;
      const type = Number(image['imagetype']);
      if ((type === 0 || type === 2) && event.pre) pre.push({ key: alias, value: imageEntity(event.def, event.id, event.pre, attributes) });
      if ((type === 1 || type === 2) && event.post) post.push({ key: alias, value: imageEntity(event.def, event.id, event.post, attributes) });
    }
    // Asynchronous steps get the primary name and id as a post image even without registered images (use-webhooks.md sample).
    if (event.post && step['mode'] === 1) {
      post.push({ key: 'AsynchronousStepPrimaryName', value: imageEntity(event.def, event.id, event.post, [event.def.primaryName, event.def.primaryId]) });
    }
    return { pre, post };
  }

  private enqueueNew(d: WebhookDelivery): void {
    const plan = this.faultPlan;
    const prng = this.o.faults();
    // Always four draws, so one decision never shifts the others.
    const drop = prng.chance(plan.dropProbability ?? 0);
    const duplicate = prng.chance(plan.duplicateProbability ?? 0);
    const delay = prng.chance(plan.delay?.probability ?? 0);
    const reorder = prng.chance(plan.reorderProbability ?? 0);
    d.sequence = ++this.sequence;
    this.records.push(d);
    if (drop) {
      d.faults.push('dropped');
      this.settle(d, 'dropped');
      return;
    }
    const copies = [d];
    if (duplicate) {
      d.faults.push('duplicated');
      const copy: WebhookDelivery = { ...d, sequence: ++this.sequence, attempts: [], faults: ['duplicate'], duplicateOf: d.sequence, headers: { ...d.headers } };
      this.records.push(copy);
      copies.push(copy);
    }
    for (const c of copies) {
      if (delay) {
        c.faults.push(`delayed ${plan.delay!.ms}ms`);
        const t = setTimeout(() => {
          this.delayed.delete(t);
          this.place(c, false);
        }, plan.delay!.ms);
        this.delayed.add(t);
      } else {
        this.place(c, reorder && c === d);
      }
    }
  }

  private place(d: WebhookDelivery, hold: boolean): void {
    if (this.closed) return;
    if (hold && !this.held) {
      d.faults.push('reordered');
      this.held = d;
      // Released after the next delivery, or after a short while if none comes.
      this.heldTimer = setTimeout(() => this.releaseHeld(), 2000);
      return;
    }
    this.queue.push(d);
    this.releaseHeld();
    this.pump();
  }

  private releaseHeld(): void {
    if (!this.held) return;
    clearTimeout(this.heldTimer);
    this.queue.push(this.held);
    this.held = undefined;
    this.pump();
  }

  private pump(): void {
    while (this.active < this.o.concurrency && this.queue.length) {
      const d = this.queue.shift()!;
      this.active++;
      void this.send(d).finally(() => {
        this.active--;
        this.pump();
        this.checkIdle();
      });
    }
    this.checkIdle();
  }

  private async send(d: WebhookDelivery): Promise<void> {
    const outcome = await this.post(d);
    if (outcome === undefined) return;
    // A failed delivery queued again stays pending (its system job waits) until its last attempt.
    if (outcome === 'failed' && this.redeliverLater(d)) return;
    this.settle(d, outcome);
  }

  /** One delivery as the webhook service sends it: the POST, and one more only after 502/503/504. */
  private async post(d: WebhookDelivery): Promise<'delivered' | 'failed' | undefined> {
    for (let attempt = 1; attempt <= 2; attempt++) {
      if (this.closed) return undefined;
      const started = this.o.now();
      const t0 = performance.now();
      try {
        const res = await fetch(d.url, { method: 'POST', headers: d.headers, body: d.body, signal: AbortSignal.timeout(this.o.timeoutMs()) });
        await res.arrayBuffer().catch(() => undefined); // the body is ignored; only the status counts
        d.attempts.push({ status: res.status, startedAt: new Date(started).toISOString(), durationMs: Math.round(performance.now() - t0) });
        if (res.status >= 200 && res.status < 300) return 'delivered';
        // Only 502, 503 and 504 get one more attempt (use-webhooks.md "Troubleshoot"; docs/reference/platform-facts.md section 5).
        if (attempt === 1 && (res.status === 502 || res.status === 503 || res.status === 504)) continue;
        return 'failed';
      } catch (err) {
        d.attempts.push({ error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), startedAt: new Date(started).toISOString(), durationMs: Math.round(performance.now() - t0) });
        return 'failed';
      }
    }
    return 'failed';
  }

  /** Queues a failed delivery again after its wait when the `redelivery` option allows one more; false when not. */
  private redeliverLater(d: WebhookDelivery): boolean {
    const plan = this.o.redelivery?.();
    if (!plan || this.closed || d.redeliveries >= plan.attempts) return false;
    d.redeliveries += 1;
    const t = setTimeout(() => {
      this.delayed.delete(t);
      this.place(d, false);
    }, plan.afterMs * 2 ** (d.redeliveries - 1));
    this.delayed.add(t);
    return true;
  }

  private settle(d: WebhookDelivery, state: WebhookDelivery['state']): void {
    d.state = state;
    for (const w of [...this.waiters]) {
      const done = this.records.filter((r) => r.state !== 'pending' && w.predicate(r));
      if (done.length >= w.count) {
        clearTimeout(w.timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve(done);
      }
    }
  }

  /** Resolves once `count` settled deliveries match; rejects after `timeoutMs` (a safety net, not a timing assertion). */
  waitFor(predicate: (d: WebhookDelivery) => boolean, count: number, timeoutMs: number): Promise<WebhookDelivery[]> {
    const done = this.records.filter((r) => r.state !== 'pending' && predicate(r));
    if (done.length >= count) return Promise.resolve(done);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        predicate,
        count,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((x) => x !== waiter);
          const got = this.records.filter((r) => r.state !== 'pending' && predicate(r)).length;
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${count} webhook deliveries (${got} settled)`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  private checkIdle(): void {
    if (this.active === 0 && this.queue.length === 0 && !this.held && this.delayed.size === 0) {
      const waiting = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiting) w();
    }
  }

  /** Releases held deliveries and resolves when nothing is queued, delayed or in flight. */
  flush(): Promise<void> {
    this.releaseHeld();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.checkIdle();
    });
  }

  /** Forgets all deliveries and queued work. */
  reset(): void {
    this.queue.length = 0;
    clearTimeout(this.heldTimer);
    this.held = undefined;
    for (const t of this.delayed) clearTimeout(t);
    this.delayed.clear();
    this.records.length = 0;
    this.sequence = 0;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error('simulator reset'));
    }
    this.waiters = [];
    this.checkIdle();
  }

  close(): void {
    this.closed = true;
    this.reset();
  }
}

/** JSON with "/" escaped as "\/", as WCF's DataContractJsonSerializer writes it (see the sample's "\/Date(...)\/"). */
function wcfJson(value: unknown): string {
  return JSON.stringify(value).replace(/\//g, '\\/');
}

/** A stored value as a WCF-typed attribute value. */
function wcfValue(def: EntityDef, name: string, v: Value | Row[]): unknown {
  if (Array.isArray(v)) {
    const partyDef = entityDef('activityparty');
    return {
      __type: `EntityCollection:${CONTRACTS}`,
      Entities: v.map((p) => toEntity(partyDef, text(p['activitypartyid']), new Map(Object.entries(p).filter(([, x]) => x !== null)), false)),
      EntityName: 'activityparty',
      MinActiveRowVersion: '-1',
      MoreRecords: false,
      PagingCookie: null,
      TotalRecordCount: -1,
      TotalRecordCountLimitExceeded: false,
    };
  }
  if (v === null) return null;
  if (isLookup(v)) return entityReference(v);
  const column = def.columns.get(name);
  switch (column?.type) {
    case 'picklist':
    case 'state':
    case 'status':
      return optionSet(Number(v));
    case 'datetime':
      return wcfDate(Date.parse(String(v)));
    case 'date':
      return wcfDate(Date.parse(`${String(v)}T00:00:00Z`));
    default:
      return v;
  }
}

function formattedValues(def: EntityDef, attrs: Map<string, Value | Row[]>): unknown[] {
  const out: unknown[] = [];
  for (const [name, v] of attrs) {
    const c = def.columns.get(name);
    if (typeof v !== 'number' || !c) continue;
    if (c.type === 'state') {
      const label = def.states?.find((s) => s.state === v)?.label;
      if (label) out.push({ key: name, value: label });
    } else if (c.type === 'status') {
      const label = def.states?.flatMap((s) => s.statuses).find((s) => s.value === v)?.label;
      if (label) out.push({ key: name, value: label });
    }
  }
  return out;
}

/** An Entity in WCF JSON; the Target carries `__type`, image entities do not (as in the sample). */
function toEntity(def: EntityDef, id: string, attrs: Map<string, Value | Row[]>, withType: boolean): Record<string, unknown> {
  const attributes: unknown[] = [];
  for (const [name, v] of attrs) {
    if (def.columns.get(name)?.writeOnly) continue;
    attributes.push({ key: name, value: wcfValue(def, name, v) });
  }
  return {
    ...(withType ? { __type: `Entity:${CONTRACTS}` } : {}),
    Attributes: attributes,
    EntityState: null,
    FormattedValues: formattedValues(def, attrs),
    Id: id,
    KeyAttributes: [],
    LogicalName: def.logicalName,
    RelatedEntities: [],
    RowVersion: null,
  };
}

function imageEntity(def: EntityDef, id: string, snapshot: Snapshot, attributes: string[] | undefined): Record<string, unknown> {
  const attrs = new Map<string, Value | Row[]>();
  const wanted = attributes ?? [...def.columns.keys(), ...Object.values(def.activity?.partyColumns ?? {})];
  for (const name of wanted) {
    const partyMask = Object.entries(def.activity?.partyColumns ?? {}).find(([, c]) => c === name)?.[0];
    if (partyMask !== undefined) {
      const list = snapshot.parties.filter((p) => p['participationtypemask'] === Number(partyMask));
      if (list.length) attrs.set(name, list);
      continue;
    }
    const v = snapshot.row[name];
    if (v !== undefined && v !== null) attrs.set(name, v);
  }
  return toEntity(def, id, attrs, false);
}
