// POST /api/dataverse/webhook: Dataverse webhook deliveries (RemoteExecutionContext JSON, docs/reference/platform-facts.md section 5).
// Authenticates the key the service endpoint sends (HttpHeader auth, constant-time compare); validates the body;
// drops the echo of the sync's own writes (its `tag`, or the sync's application user as initiating user) before
// enqueueing; enqueues one message per change.
import { z } from 'zod';
import { isSyncError } from '../errors.js';
import { guidSchema } from '../guid.js';
import { isProbeId } from '../doctor/index.js';
import { dataverseChange, dataverseEntities, type ChangeMessageInput, type DataverseEntity } from '../servicebus/messages.js';
import { constantTimeEquals } from '../constantTime.js';
import { deleteImageColumns, imageColumns } from '../sync/columns.js';
import { kindOfTable } from '../sync/kinds/index.js';
import { imageToRecord, postImageAlias } from './entityImage.js';
import { jsonError, parseBody, type WebhookRequest, type WebhookResponse } from './http.js';

/** The header the service endpoint is registered to send (authtype 5, HttpHeader). */
export const webhookKeyHeader = 'x-sync-webhook-key';

const keyValue = z.object({ key: z.string(), value: z.unknown() });
const guidish = guidSchema();
const entitySchema = z.object({ Attributes: z.array(keyValue).default([]), Id: z.string().optional(), LogicalName: z.string().optional(), RowVersion: z.string().nullish() }).passthrough();

const contextBase = z
  .object({
    MessageName: z.string().min(1),
    PrimaryEntityName: z.string().min(1),
    PrimaryEntityId: guidish,
    InitiatingUserId: guidish,
    UserId: guidish,
    CorrelationId: z.string().optional(),
    Depth: z.number().int().optional(),
    OperationId: z.string().optional(),
    SharedVariables: z.array(keyValue).default([]),
    InputParameters: z.array(keyValue).optional(),
    PostEntityImages: z.array(z.object({ key: z.string(), value: entitySchema })).optional(),
    PreEntityImages: z.array(z.object({ key: z.string(), value: entitySchema })).optional(),
  })
  .passthrough();

export const remoteExecutionContextSchema = contextBase.extend({
  ParentContext: z.object({ SharedVariables: z.array(keyValue).default([]) }).passthrough().nullish(),
});
export type RemoteExecutionContext = z.infer<typeof remoteExecutionContextSchema>;

export interface DataverseWebhookDeps {
  webhookKey: string;
  syncTag: string;
  /** systemuserids of the sync's application users (SYNC_CLIENT_ID's and those of DATAVERSE_APPLICATION_USERS). */
  applicationUserIds(): Promise<readonly string[]>;
  enqueue(messages: ChangeMessageInput[]): Promise<void>;
  log: (level: 'info' | 'warn' | 'error', message: string, props?: Record<string, unknown>) => void;
  now?: () => Date;
  /** Records what the webhook of a `doctor` probe record carried (shared/doctor/index.ts). */
  onProbe?: (recordId: string, tagPresent: boolean) => Promise<void>;
}

/**
 * The messages `dataverse register-webhooks` registers steps for. SetState and SetStateDynamicEntity are not among
 * them: a state change raises the Update step (it filters on statecode and statuscode), so a SetState step
 * registered by hand is answered 200 and dropped, like any other message the sync does not handle.
 */
const messages = new Map<string, 'Create' | 'Update' | 'Delete'>([
  ['Create', 'Create'],
  ['Update', 'Update'],
  ['Delete', 'Delete'],
]);

/** Handles one delivery from Dataverse. */
export async function handleDataverseWebhook(req: WebhookRequest, deps: DataverseWebhookDeps): Promise<WebhookResponse> {
  if (!constantTimeEquals(deps.webhookKey, req.headers.get(webhookKeyHeader))) {
    return jsonError(401, 'NotAuthentic', `missing or wrong ${webhookKeyHeader} header`);
  }
  const parsed = parseBody(req, remoteExecutionContextSchema, 'InvalidExecutionContext', 'RemoteExecutionContext');
  if (!parsed.ok) return parsed.response;
  const context = parsed.value;
  const entity = context.PrimaryEntityName.toLowerCase();
  const message = messages.get(context.MessageName);
  if (!isSyncedEntity(entity) || !message) {
    // A step registered for something we do not sync: accept (so Dataverse does not retry) and ignore.
    deps.log('warn', 'dataverse webhook for an entity or message the sync does not handle', { entity, message: context.MessageName });
    return { status: 200 };
  }
  const log = { entity, recordId: context.PrimaryEntityId, message, correlationId: context.CorrelationId };
  // The doctor's own probe: its Create says whether the tag reached the webhook body; nothing of it is synced.
  if (isProbeId(context.PrimaryEntityId)) {
    if (message === 'Create') await deps.onProbe?.(context.PrimaryEntityId, hasTag(context, deps.syncTag));
    return { status: 200 };
  }
  // The tag reaches SharedVariables, or ParentContext.SharedVariables for asynchronous steps (docs/reference/platform-facts.md section 8,
  // open question 2): look in both; the initiating application user is the fallback.
  if (hasTag(context, deps.syncTag)) {
    deps.log('info', 'dataverse webhook dropped: the sync\'s own write (tag)', log);
    return { status: 200 };
  }
  const initiating = context.InitiatingUserId.toLowerCase();
  if ((await deps.applicationUserIds()).some((id) => id.toLowerCase() === initiating)) {
    deps.log('info', 'dataverse webhook dropped: the sync\'s own write (initiating user)', log);
    return { status: 200 };
  }
  const post = (context.PostEntityImages?.find((i) => i.key === postImageAlias) ?? context.PostEntityImages?.[0])?.value;
  const pre = context.PreEntityImages?.[0]?.value;
  // The post image registered with every mapped column spares the worker a read of the record. A Delete's pre image
  // says whose part the record was (an instance's series), which nothing can read once it is gone.
  const image =
    message === 'Delete'
      ? pre && imageToRecord(entity, { ...pre, Id: pre.Id ?? context.PrimaryEntityId }, deleteImageColumns(entity), { versionless: true })
      : context.PostEntityImages?.some((i) => i.key === postImageAlias) && post
        ? imageToRecord(entity, post, imageColumns(entity))
        : undefined;
  const version = post?.RowVersion ?? attribute(post, 'versionnumber') ?? targetOf(context)?.RowVersion ?? undefined;
  const owner = attribute(pre, 'ownerid') ?? attribute(post, 'ownerid');
  const change = dataverseChange(
    {
      entity,
      recordId: context.PrimaryEntityId,
      message,
      version: typeof version === 'string' || typeof version === 'number' ? String(version) : undefined,
      ownerId: ownerIdOf(owner),
      image,
      carrierId: image ? kindOfTable(entity).recordCarrierOf?.(image)?.id : undefined,
    },
    { receivedAt: (deps.now?.() ?? new Date()).toISOString(), correlationId: context.CorrelationId },
  );
  try {
    await deps.enqueue([change]);
  } catch (error) {
    deps.log('error', 'dataverse change could not be enqueued', { ...log, code: isSyncError(error) ? error.code : 'Unknown' });
    return jsonError(503, 'EnqueueFailed', 'the change queue is unavailable; retry later');
  }
  deps.log('info', 'dataverse change enqueued', log);
  return { status: 202 };
}

function isSyncedEntity(entity: string): entity is DataverseEntity {
  return (dataverseEntities as readonly string[]).includes(entity);
}

function hasTag(context: RemoteExecutionContext, tag: string): boolean {
  const lists = [context.SharedVariables, context.ParentContext?.SharedVariables ?? []];
  return lists.some((list) => list.some((kv) => kv.key === 'tag' && kv.value === tag));
}

function targetOf(context: RemoteExecutionContext): z.infer<typeof entitySchema> | undefined {
  const target = context.InputParameters?.find((p) => p.key === 'Target')?.value;
  const parsed = entitySchema.safeParse(target);
  return parsed.success ? parsed.data : undefined;
}

function attribute(entity: z.infer<typeof entitySchema> | undefined, name: string): unknown {
  return entity?.Attributes.find((a) => a.key === name)?.value;
}

/** The Id of a WCF EntityReference value ({ __type, Id, LogicalName }). */
function ownerIdOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as { Id?: unknown }).Id;
  return typeof id === 'string' ? id.toLowerCase() : undefined;
}
