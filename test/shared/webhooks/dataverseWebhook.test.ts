// The Dataverse webhook handler's decisions (shared/webhooks/dataverseWebhook.ts), delivery in, answer and queue
// message out, through the handler's own ports (the application user's id and what it enqueues are plain data
// here). test/e2e/webhooks.test.ts and test/e2e/echo.test.ts prove the same endpoint through the host and the
// Dataverse simulator.
import { describe, expect, it } from 'vitest';
import { SyncError } from '../../../shared/errors.js';
import type { ChangeMessageInput } from '../../../shared/servicebus/messages.js';
import { handleDataverseWebhook, remoteExecutionContextSchema, webhookKeyHeader, type DataverseWebhookDeps } from '../../../shared/webhooks/dataverseWebhook.js';
import { maxWebhookBodyBytes, tooLarge, type WebhookRequest } from '../../../shared/webhooks/http.js';

const key = 'the-webhook-key';
const syncTag = 'dataverse-exchange-sync';
const appUser = 'AAAAAAAA-0000-4000-8000-00000000000A';
const person = 'bbbbbbbb-0000-4000-8000-00000000000b';
const recordId = 'C1C1C1C1-0000-4000-8000-000000000001';
const owner = 'DDDDDDDD-0000-4000-8000-00000000000D';
const contracts = 'http://schemas.microsoft.com/xrm/2011/Contracts';
const ownerRef = (id: string) => ({ __type: `EntityReference:${contracts}`, Id: id, LogicalName: 'systemuser' });

function harness(options: { enqueueFails?: true | Error; applicationUsers?: string[] } = {}) {
  const enqueued: ChangeMessageInput[] = [];
  const probes: [string, boolean][] = [];
  const logs: { level: string; message: string; props?: Record<string, unknown> }[] = [];
  const deps: DataverseWebhookDeps = {
    webhookKey: key,
    syncTag,
    applicationUserIds: () => Promise.resolve(options.applicationUsers ?? [appUser]),
    enqueue: (messages) => {
      if (options.enqueueFails) return Promise.reject(options.enqueueFails === true ? new SyncError('Transient', 'queue down') : options.enqueueFails);
      enqueued.push(...messages);
      return Promise.resolve();
    },
    log: (level, message, props) => logs.push({ level, message, ...(props === undefined ? {} : { props }) }),
    now: () => new Date('2026-12-02T10:00:00Z'),
    onProbe: (id, tagPresent) => {
      probes.push([id, tagPresent]);
      return Promise.resolve();
    },
  };
  return { deps, enqueued, probes, logs };
}

const context = (overrides: Record<string, unknown> = {}) => ({
  MessageName: 'Update',
  PrimaryEntityName: 'appointment',
  PrimaryEntityId: recordId,
  InitiatingUserId: person,
  UserId: person,
  CorrelationId: 'corr-1',
  SharedVariables: [],
  ...overrides,
});
const request = (body: unknown, headers: Record<string, string> = { [webhookKeyHeader]: key }): WebhookRequest => ({
  method: 'POST', url: 'https://host/api/dataverse/webhook', headers: new Headers(headers), query: new URLSearchParams(), body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('Dataverse webhook handler', () => {
  it('refuses a delivery without the right key (401) before reading the body', async () => {
    const h = harness();
    for (const headers of [{}, { [webhookKeyHeader]: 'the-webhook-kez' }] as Record<string, string>[]) {
      expect(await handleDataverseWebhook(request('not json', headers), h.deps)).toEqual({ status: 401, jsonBody: { error: { code: 'NotAuthentic', message: `missing or wrong ${webhookKeyHeader} header` } } });
    }
    expect(h.enqueued).toEqual([]);
  });

  it('enqueues a change of a synced table with its version and owner, the id and table in lower case', async () => {
    const h = harness();
    const res = await handleDataverseWebhook(request(context({
      PrimaryEntityName: 'Appointment',
      PreEntityImages: [{ key: 'PreImage', value: { Attributes: [{ key: 'ownerid', value: ownerRef(owner) }] } }],
      InputParameters: [{ key: 'Target', value: { Attributes: [], RowVersion: '4711' } }],
    })), h.deps);
    expect(res).toEqual({ status: 202 });
    expect(h.enqueued).toEqual([expect.objectContaining({ source: 'dataverse', entity: 'appointment', recordId: recordId.toLowerCase(), message: 'Update', version: '4711', ownerId: owner.toLowerCase(), correlationId: 'corr-1', receivedAt: '2026-12-02T10:00:00.000Z' })]);
    expect(h.enqueued[0]).not.toHaveProperty('image');
  });

  it('takes the version from the post image first, then its versionnumber, then the target; the owner from the pre image first', async () => {
    const version = async (extra: Record<string, unknown>) => {
      const h = harness();
      await handleDataverseWebhook(request(context(extra)), h.deps);
      return h.enqueued[0] as { version?: string; ownerId?: string };
    };
    const target = { key: 'Target', value: { Attributes: [], RowVersion: '1' } };
    expect((await version({ InputParameters: [target], PostEntityImages: [{ key: 'Other', value: { Attributes: [], RowVersion: '3' } }] })).version).toBe('3');
    expect((await version({ InputParameters: [target], PostEntityImages: [{ key: 'Other', value: { Attributes: [{ key: 'versionnumber', value: 2 }] } }] })).version).toBe('2');
    expect((await version({ InputParameters: [{ key: 'Other', value: { RowVersion: '9' } }] })).version).toBeUndefined();
    expect((await version({ InputParameters: [{ key: 'Target', value: 'not an entity' }] })).version).toBeUndefined();
    const both = await version({
      PreEntityImages: [{ key: 'PreImage', value: { Attributes: [{ key: 'ownerid', value: ownerRef(owner) }] } }],
      PostEntityImages: [{ key: 'Other', value: { Attributes: [{ key: 'ownerid', value: ownerRef(person) }] } }],
    });
    expect(both.ownerId).toBe(owner.toLowerCase());
    const postOnly = await version({ PostEntityImages: [{ key: 'Other', value: { Attributes: [{ key: 'ownerid', value: ownerRef(person) }] } }] });
    expect(postOnly.ownerId).toBe(person);
    const notAReference = await version({ PostEntityImages: [{ key: 'Other', value: { Attributes: [{ key: 'ownerid', value: 'x' }] } }] });
    expect(notAReference).not.toHaveProperty('ownerId');
    const noId = await version({ PostEntityImages: [{ key: 'Other', value: { Attributes: [{ key: 'ownerid', value: { Id: 7 } }] } }] });
    expect(noId).not.toHaveProperty('ownerId');
    // An ownerid without a value (null in the image) is no owner, and the change is still enqueued.
    const nullOwner = await version({ PostEntityImages: [{ key: 'Other', value: { Attributes: [{ key: 'ownerid', value: null }] } }] });
    expect(nullOwner).toMatchObject({ message: 'Update' });
    expect(nullOwner).not.toHaveProperty('ownerId');
  });

  it('carries the record from the registered post image (by its alias) so the worker need not read it; not for a Delete', async () => {
    const post = { Id: recordId, Attributes: [{ key: 'subject', value: 'Review' }, { key: 'versionnumber', value: 5 }] };
    const h = harness();
    await handleDataverseWebhook(request(context({ PostEntityImages: [{ key: 'Other', value: { Attributes: [] } }, { key: 'PostImage', value: post }] })), h.deps);
    expect(h.enqueued[0]).toMatchObject({ version: '5', image: { '@odata.etag': 'W/"5"', subject: 'Review' } });
    const unregistered = harness();
    await handleDataverseWebhook(request(context({ PostEntityImages: [{ key: 'Other', value: post }] })), unregistered.deps);
    expect(unregistered.enqueued[0]).not.toHaveProperty('image');
    const deleted = harness();
    await handleDataverseWebhook(request(context({ MessageName: 'Delete', PostEntityImages: [{ key: 'PostImage', value: post }] })), deleted.deps);
    expect(deleted.enqueued[0]).toMatchObject({ message: 'Delete' });
    expect(deleted.enqueued[0]).not.toHaveProperty('image');
  });

  it("carries a Delete's pre image (no version, the id from the context when the image has none), so a deleted instance is known as its series' change", async () => {
    const series = 'E5E5E5E5-0000-4000-8000-000000000005';
    const h = harness();
    await handleDataverseWebhook(request(context({
      MessageName: 'Delete',
      PreEntityImages: [{ key: 'PreImage', value: { Attributes: [{ key: 'ownerid', value: ownerRef(owner) }, { key: 'seriesid', value: series }, { key: 'instancetypecode', value: { Value: 3 } }] } }],
    })), h.deps);
    expect(h.enqueued).toEqual([expect.objectContaining({ message: 'Delete', ownerId: owner.toLowerCase(), carrierId: series.toLowerCase() })]);
    expect(h.enqueued[0]).toMatchObject({ image: { '@odata.type': '#Microsoft.Dynamics.CRM.appointment', activityid: recordId.toLowerCase(), seriesid: series, instancetypecode: 3 } });
    expect(Object.keys((h.enqueued[0] as { image: object }).image)).not.toContain('@odata.etag');
    // A Delete without a pre image carries no record: the worker knows it by its pair.
    const bare = harness();
    await handleDataverseWebhook(request(context({ MessageName: 'Delete' })), bare.deps);
    expect(bare.enqueued).toEqual([expect.objectContaining({ message: 'Delete' })]);
    expect(bare.enqueued[0]).not.toHaveProperty('image');
  });

  it('drops the echo of the sync\'s own write: its tag (in the context or its parent) or its application user as initiator', async () => {
    const tag = [{ key: 'tag', value: syncTag }];
    for (const extra of [{ SharedVariables: tag }, { ParentContext: { SharedVariables: tag } }, { InitiatingUserId: appUser.toLowerCase() }]) {
      const h = harness();
      expect(await handleDataverseWebhook(request(context(extra)), h.deps)).toEqual({ status: 200 });
      expect(h.enqueued).toEqual([]);
    }
    // Any of the sync's application users (SYNC_CLIENT_ID's and those of DATAVERSE_APPLICATION_USERS), in any case.
    const other = 'eeeeeeee-0000-4000-8000-00000000000e';
    const several = harness({ applicationUsers: [appUser, other.toUpperCase()] });
    expect(await handleDataverseWebhook(request(context({ InitiatingUserId: other })), several.deps)).toEqual({ status: 200 });
    expect(several.enqueued).toEqual([]);
    // Another tag, or the sync's tag under another key, is a person's change.
    for (const extra of [{ SharedVariables: [{ key: 'tag', value: 'someone-else' }] }, { SharedVariables: [{ key: 'other', value: syncTag }] }, { ParentContext: null }]) {
      const h = harness();
      expect((await handleDataverseWebhook(request(context(extra)), h.deps)).status).toBe(202);
    }
  });

  it('accepts and ignores (200) a table or a message the sync does not handle', async () => {
    for (const extra of [{ PrimaryEntityName: 'account' }, { MessageName: 'SetState' }, { PrimaryEntityName: 'toString' }, { MessageName: 'constructor' }]) {
      const h = harness();
      expect(await handleDataverseWebhook(request(context(extra)), h.deps)).toEqual({ status: 200 });
      expect(h.enqueued).toEqual([]);
    }
  });

  it('reports the doctor\'s probe record (whether the tag arrived) on its Create only, and never enqueues it', async () => {
    const probeId = 'd0c70000-0000-4000-8000-000000000001';
    const h = harness();
    expect(await handleDataverseWebhook(request(context({ MessageName: 'Create', PrimaryEntityName: 'task', PrimaryEntityId: probeId, SharedVariables: [{ key: 'tag', value: syncTag }] })), h.deps)).toEqual({ status: 200 });
    expect(await handleDataverseWebhook(request(context({ MessageName: 'Create', PrimaryEntityName: 'task', PrimaryEntityId: probeId })), h.deps)).toEqual({ status: 200 });
    expect(await handleDataverseWebhook(request(context({ MessageName: 'Delete', PrimaryEntityName: 'task', PrimaryEntityId: probeId })), h.deps)).toEqual({ status: 200 });
    expect(h.probes).toEqual([[probeId, true], [probeId, false]]);
    expect(h.enqueued).toEqual([]);
  });

  it('answers 503 (so Dataverse retries) when the queue cannot take the change', async () => {
    const h = harness({ enqueueFails: true });
    expect(await handleDataverseWebhook(request(context()), h.deps)).toEqual({ status: 503, jsonBody: { error: { code: 'EnqueueFailed', message: 'the change queue is unavailable; retry later' } } });
  });

  it('logs what became of each delivery by ids and codes: ignored, dropped as an echo (and why), enqueued, not enqueued', async () => {
    const logged = async (extra: Record<string, unknown>, options: Parameters<typeof harness>[0] = {}) => {
      const h = harness(options);
      await handleDataverseWebhook(request(context(extra)), h.deps);
      return h.logs;
    };
    const ids = { entity: 'appointment', recordId: recordId.toLowerCase(), message: 'Update', correlationId: 'corr-1' };
    expect(await logged({ PrimaryEntityName: 'account' })).toEqual([{ level: 'warn', message: 'dataverse webhook for an entity or message the sync does not handle', props: { entity: 'account', message: 'Update' } }]);
    expect(await logged({ MessageName: 'SetState' })).toEqual([{ level: 'warn', message: 'dataverse webhook for an entity or message the sync does not handle', props: { entity: 'appointment', message: 'SetState' } }]);
    expect(await logged({ SharedVariables: [{ key: 'tag', value: syncTag }] })).toEqual([{ level: 'info', message: "dataverse webhook dropped: the sync's own write (tag)", props: ids }]);
    expect(await logged({ InitiatingUserId: appUser })).toEqual([{ level: 'info', message: "dataverse webhook dropped: the sync's own write (initiating user)", props: ids }]);
    expect(await logged({})).toEqual([{ level: 'info', message: 'dataverse change enqueued', props: ids }]);
    expect(await logged({}, { enqueueFails: true })).toEqual([{ level: 'error', message: 'dataverse change could not be enqueued', props: { ...ids, code: 'Transient' } }]);
    // A failure that is not one of ours is logged as Unknown, its message (which may hold anything) left out.
    expect(await logged({}, { enqueueFails: new Error('socket hang up at 10.0.0.7') })).toEqual([{ level: 'error', message: 'dataverse change could not be enqueued', props: { ...ids, code: 'Unknown' } }]);
  });

  it('answers 400 naming the failing path for a context that is not one, and 413 for an oversized body', async () => {
    const h = harness();
    // The first issue the schema finds, by its path (dotted for a nested one, "(root)" for the body itself) and message.
    const rejected = (body: unknown) => {
      const issue = remoteExecutionContextSchema.safeParse(body).error!.issues[0]!;
      return { status: 400, jsonBody: { error: { code: 'InvalidExecutionContext', message: `RemoteExecutionContext rejected at ${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}` } } };
    };
    for (const body of [context({ PrimaryEntityId: 'not-a-guid' }), context({ PostEntityImages: [{ key: 7, value: { Attributes: [] } }] }), [], null]) {
      expect(await handleDataverseWebhook(request(body), h.deps)).toEqual(rejected(body));
    }
    expect(rejected(context({ PrimaryEntityId: 'not-a-guid' })).jsonBody.error.message).toMatch(/^RemoteExecutionContext rejected at PrimaryEntityId: ./);
    expect(rejected(context({ PostEntityImages: [{ key: 7, value: { Attributes: [] } }] })).jsonBody.error.message).toMatch(/ at PostEntityImages\.0\.key: /);
    expect(rejected([]).jsonBody.error.message).toMatch(/ at \(root\): /);
    expect((await handleDataverseWebhook(request('{"MessageName": '), h.deps))).toEqual({ status: 400, jsonBody: { error: { code: 'InvalidJson', message: 'request body is not valid JSON' } } });
    expect((await handleDataverseWebhook(request('x'.repeat(maxWebhookBodyBytes + 1)), h.deps)).status).toBe(413);
    expect(h.enqueued).toEqual([]);
  });
});

describe('webhook body size', () => {
  it('refuses a declared or an actual length over 1 MB (in UTF-8 bytes), and passes exactly 1 MB', () => {
    const headers = (length?: number) => new Headers(length === undefined ? {} : { 'content-length': String(length) });
    expect(tooLarge(headers(maxWebhookBodyBytes))).toBeUndefined();
    expect(tooLarge(headers(maxWebhookBodyBytes + 1))?.status).toBe(413);
    expect(tooLarge(headers(), 'x'.repeat(maxWebhookBodyBytes))).toBeUndefined();
    expect(tooLarge(headers(), 'é'.repeat(maxWebhookBodyBytes / 2 + 1))).toEqual({ status: 413, jsonBody: { error: { code: 'PayloadTooLarge', message: `request body exceeds ${maxWebhookBodyBytes} bytes` } } });
  });
});
