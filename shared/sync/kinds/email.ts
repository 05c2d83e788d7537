// Tracked email, opt-in per mailbox: Dataverse `email` <-> Graph `message`, on the mapping of
// shared/mapping/email.ts and the decision tables of ./emailPlan.ts. Not synced field by field: a tracked message
// becomes one email activity once (Exchange -> Dynamics 365), and a Pending Send email whose sender's mailbox syncs
// email here goes out through that mailbox once (Dynamics 365 -> Exchange). This file reads what the rules decide
// from and performs the actions they return; the rules themselves are pure.
import { createHash } from 'node:crypto';
import type { Attachment, Message } from '@microsoft/microsoft-graph-types';
import type { DataverseRecord } from '../../dataverse/client.js';
import { BoundedCache } from '../../boundedCache.js';
import { odataString } from '../../odata.js';
import { SyncError, isSyncError, toSyncError } from '../../errors.js';
import {
  EmailStatus,
  activityIdProperty,
  classifySendFailure,
  draftFromEmail,
  emailFields,
  emailFromMessage,
  messageDirection,
  messageParties,
  messageSelect,
  normalizeMessageId,
  notificationAttachmentsSkipped,
  repliedMessageIds,
  type EmailDirection,
  type EmailPartyRow,
  type ResolvedParty,
} from '../../mapping/index.js';
import type { Runtime } from '../../runtime.js';
import type { DataverseChange, ExchangeChange } from '../../servicebus/messages.js';
import type { SendClaim } from '../../storage/emailStore.js';
import type { Mailbox } from '../../storage/mailboxStore.js';
import type { Outcome } from '../execute.js';
import { recordIdForExchangeItem } from '../ids.js';
import { forMailbox, gateFor, pausedOutcome } from '../mailboxHealth.js';
import { liveSlots, nextSendSlot, planSend, planTrack, type EmailAction } from './emailPlan.js';
import { notFound, orUndefined } from './common.js';
import type { DeltaItem, SyncKind } from './types.js';

const parties = 'email_activity_parties';
/** The reconcile cursor of a folder's message delta (per mailbox and folder). */
const messagesDeltaScope = 'messagesDelta';
/** The folders tracked mail is in: received in Inbox, sent in Sent Items. */
const deltaFolders = ['inbox', 'sentitems'] as const;
const partySelect = `${parties}($select=_partyid_value,participationtypemask,addressused)`;
/** A file attachment up to 3 MB goes in one request; larger ones need an upload session (https://learn.microsoft.com/graph/outlook-large-attachments). */
export const inlineAttachmentLimit = 3 * 1024 * 1024;

/** The email activity's id for a (Message-ID, direction): derived, so every mailbox's copy and every retry names the same record. */
export function emailActivityId(key: string, direction: EmailDirection): string {
  const h = createHash('sha256').update(`email|${direction}|${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16)}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

/** An attachment's record id: derived from the email and the attachment, so a retry does not copy it twice. */
function attachmentRecordId(activityId: string, attachmentId: string): string {
  const h = createHash('sha256').update(`att|${activityId}|${attachmentId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The OData filter that finds a message stamped with the activity id (extended-properties-overview). */
export const stampFilter = (activityId: string) => `singleValueExtendedProperties/any(ep: ep/id eq '${activityIdProperty}' and ep/value eq '${odataString(activityId).slice(1, -1)}')`;

// ------------------------------------------------------------------------------------------------------------
// Reads shared by both directions (cached per process for a few minutes: they change rarely)
// ------------------------------------------------------------------------------------------------------------

const cacheMs = 5 * 60_000;
// One entry per mailbox that sent lately: bounded, so a worker of a large tenant does not keep every mailbox's.
const sentItems = new BoundedCache<string, string>(5_000, cacheMs);
let maxUpload: { bytes: number; at: number } | undefined;

async function sentItemsFolderId(rt: Runtime, mailbox: Mailbox): Promise<string | undefined> {
  const hit = sentItems.get(mailbox.id);
  if (hit) return hit;
  const folder = await orUndefined(() => rt.graph.getMailFolder(mailbox.id, 'sentitems'), notFound);
  if (folder?.id) sentItems.set(mailbox.id, folder.id);
  return folder?.id ?? undefined;
}

/** organization.maxuploadfilesize (default 5,242,880 bytes: https://learn.microsoft.com/power-apps/developer/data-platform/attachment-annotation-files). */
async function maxUploadFileSize(rt: Runtime): Promise<number> {
  if (maxUpload && Date.now() - maxUpload.at < cacheMs) return maxUpload.bytes;
  const [org] = await rt.dataverse.query('organization', { select: ['maxuploadfilesize'], top: 1 });
  const bytes = typeof org?.maxuploadfilesize === 'number' ? org.maxuploadfilesize : 5_242_880;
  maxUpload = { bytes, at: Date.now() };
  return bytes;
}

/**
 * Resolves addresses the way Dynamics 365 resolves an email's parties: an active system user, then a contact, an
 * account, a lead (https://learn.microsoft.com/dynamics365/outlook-app/user/faq-email-tracking, sections 2-3:
 * inactive users never resolve); an address matching nothing stays unresolved (`addressused` only). Enabled
 * mailboxes resolve without a call.
 */
async function resolveEmailParties(rt: Runtime, wanted: readonly { mask: 1 | 2 | 3 | 4; address: string }[]): Promise<ResolvedParty[]> {
  const cache = new Map<string, ResolvedParty['bind']>();
  const lookups: { table: 'systemuser' | 'contact' | 'account' | 'lead'; column: string; key: string; nav: string; set: string; extra?: string }[] = [
    { table: 'systemuser', column: 'internalemailaddress', key: 'systemuserid', nav: 'partyid_systemuser', set: 'systemusers', extra: ' and isdisabled eq false' },
    { table: 'contact', column: 'emailaddress1', key: 'contactid', nav: 'partyid_contact', set: 'contacts', extra: ' and statecode eq 0' },
    { table: 'account', column: 'emailaddress1', key: 'accountid', nav: 'partyid_account', set: 'accounts', extra: ' and statecode eq 0' },
    { table: 'lead', column: 'emailaddress1', key: 'leadid', nav: 'partyid_lead', set: 'leads', extra: ' and statecode eq 0' },
  ];
  const out: ResolvedParty[] = [];
  for (const p of wanted) {
    if (!cache.has(p.address)) {
      const known = await rt.mailboxes.findKnown(p.address);
      let bind: ResolvedParty['bind'] = known ? { property: 'partyid_systemuser@odata.bind', path: `/systemusers(${known.systemUserId})` } : undefined;
      for (const l of bind ? [] : lookups) {
        const rows = await rt.dataverse.query(l.table, { filter: `${l.column} eq ${odataString(p.address)}${l.extra ?? ''}`, select: [l.key], top: 1 });
        const id = rows[0]?.[l.key];
        if (typeof id === 'string') {
          bind = { property: `${l.nav}@odata.bind`, path: `/${l.set}(${id})` };
          break;
        }
      }
      cache.set(p.address, bind);
    }
    out.push({ ...p, bind: cache.get(p.address) });
  }
  return out;
}

/**
 * The regarding of the tracked email a message answers: its In-Reply-To / References matched against the
 * Message-IDs the sync keeps and the `messageid` of emails in Dataverse (our own correlation, since `inreplyto` and
 * `correlationmethod` are read-only: email.md section 0.5).
 */
async function regardingOfReply(rt: Runtime, message: Message): Promise<{ property: string; path: string } | undefined> {
  for (const id of repliedMessageIds(message).slice(0, 3)) {
    let activityId: string | undefined;
    for (const direction of ['outgoing', 'incoming'] as const) activityId ??= (await rt.email.getKey(id, direction))?.activityId;
    const rows = activityId
      ? [await rt.dataverse.get('email', activityId, { select: ['activityid', '_regardingobjectid_value'], lookupTables: true })]
      : await rt.dataverse.query('email', { filter: `messageid eq ${odataString(id)}`, select: ['activityid', '_regardingobjectid_value'], top: 1, lookupTables: true });
    const row = rows[0];
    const regarding = row?._regardingobjectid_value;
    const table = row?.['_regardingobjectid_value@Microsoft.Dynamics.CRM.lookuplogicalname'];
    if (typeof regarding === 'string' && typeof table === 'string' && ['account', 'contact', 'lead'].includes(table)) {
      return { property: `regardingobjectid_${table}_email@odata.bind`, path: `/${table === 'lead' ? 'leads' : `${table}s`}(${regarding})` };
    }
  }
  return undefined;
}

// ------------------------------------------------------------------------------------------------------------
// Exchange -> Dynamics 365
// ------------------------------------------------------------------------------------------------------------

/** Which attachments are copied, and which are left out and why (a link has no bytes; over the limit is refused). */
export function attachmentPlan(list: readonly (Attachment & { '@odata.type'?: string })[], maxBytes: number): { copy: Attachment[]; skipped: { id: string; why: 'too large' | 'not a file' }[] } {
  const copy: Attachment[] = [];
  const skipped: { id: string; why: 'too large' | 'not a file' }[] = [];
  for (const a of list) {
    const type = (a['@odata.type'] ?? '#microsoft.graph.fileAttachment').toLowerCase();
    if (type !== '#microsoft.graph.fileattachment') skipped.push({ id: a.id ?? '', why: 'not a file' });
    else if ((a.size ?? 0) > maxBytes) skipped.push({ id: a.id ?? '', why: 'too large' });
    else copy.push(a);
  }
  return { copy, skipped };
}

async function applyExchangeChange(rt: Runtime, mailbox: Mailbox, change: ExchangeChange): Promise<Outcome[]> {
  const ids = { mailboxId: mailbox.id, exchangeId: change.itemId };
  const pair = await rt.pairs.getByExchangeId(mailbox.id, change.itemId);
  // A `created` for an Outbox item is followed by a 404 (email.md section 2.2): gone, not an error to retry.
  const message = change.changeType === 'deleted' ? undefined : await orUndefined(() => rt.graph.getMessage(mailbox.id, change.itemId, messageSelect), notFound);
  const category = rt.settings.SYNC_EMAIL_CATEGORY;
  const tracked = message !== undefined && !message.isDraft && (message.categories ?? []).some((c) => c.toLowerCase() === category.toLowerCase());
  let key: string | undefined;
  let direction: EmailDirection | undefined;
  let existing: { activityId: string; complete: boolean } | undefined;
  if (message && tracked && !pair) {
    key = normalizeMessageId(message.internetMessageId);
    const fromOwner = messageDirection(message, mailbox, undefined) === 'outgoing';
    direction = fromOwner ? 'outgoing' : messageDirection(message, mailbox, await sentItemsFolderId(rt, mailbox));
    if (key) existing = await findExisting(rt, key, direction);
  }
  const actions = planTrack({ changeType: change.changeType, message, pair, category, key, direction, existing });
  const outcomes: Outcome[] = [];
  for (const action of actions) outcomes.push(await runTrack(rt, mailbox, action, { message, pair, key, ids }));
  return outcomes;
}

/** The activity of (key, direction): the sync's key row (complete), else an email in Dataverse with that messageid. */
async function findExisting(rt: Runtime, key: string, direction: EmailDirection): Promise<{ activityId: string; complete: boolean } | undefined> {
  const row = await rt.email.getKey(key, direction);
  if (row) return { activityId: row.activityId, complete: true };
  // Mail tracked by server-side sync, by another setup or before the product (email.md section 5.3).
  const [found] = await rt.dataverse.query('email', { filter: `messageid eq ${odataString(key)} and directioncode eq ${direction === 'outgoing'}`, select: ['activityid'], top: 1 });
  if (typeof found?.activityid !== 'string') return undefined;
  const activityId = found.activityid.toLowerCase();
  // Our own derived id without a key row: a create of ours that stopped half-way; finish it.
  return { activityId, complete: activityId !== emailActivityId(key, direction) };
}

async function runTrack(
  rt: Runtime,
  mailbox: Mailbox,
  action: EmailAction,
  s: { message: Message | undefined; pair: Awaited<ReturnType<Runtime['pairs']['get']>>; key: string | undefined; ids: { mailboxId: string; exchangeId: string } },
): Promise<Outcome> {
  switch (action.type) {
    case 'Ignore':
      return { kind: 'ignored', ...s.ids, detail: action.reason };
    case 'Unlink':
      if (s.pair) await rt.pairs.remove(s.pair);
      rt.log.info('email unlinked', { ...s.ids, dataverseId: s.pair?.dataverseId, reason: action.reason });
      return { kind: 'unlinked', ...s.ids, ...(s.pair ? { dataverseId: s.pair.dataverseId } : {}), detail: action.reason };
    case 'Join':
      await link(rt, mailbox, s.message!, s.key!, action.activityId, action.direction);
      return { kind: 'linked', ...s.ids, dataverseId: action.activityId, detail: action.reason };
    case 'CreateActivity': {
      const activityId = await createActivity(rt, mailbox, s.message!, s.key!, action.direction);
      return { kind: 'created', ...s.ids, dataverseId: activityId };
    }
    default:
      throw new SyncError('Internal', `a tracking plan cannot hold ${action.type}`);
  }
}

/** Records this mailbox's copy: the pair (so removing the category unlinks it) and the key's "seen in". */
async function link(rt: Runtime, mailbox: Mailbox, message: Message, key: string, activityId: string, dir: EmailDirection): Promise<void> {
  try {
    await rt.pairs.create({ mailboxId: mailbox.id, kind: 'email', dataverseEntity: 'email', dataverseId: activityId, exchangeId: message.id!, base: {}, status: 'linked' });
  } catch (error) {
    if (!isSyncError(error, 'AlreadyExists')) throw error;
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const row = await rt.email.getKey(key, dir);
    try {
      if (!row) await rt.email.createKey(key, { activityId, direction: dir, seenIn: [mailbox.id], createdOn: rt.now().toISOString() });
      else await rt.email.addSeenIn(key, row, mailbox.id);
      return;
    } catch (error) {
      if (!isSyncError(error, 'AlreadyExists') && !isSyncError(error, 'PreconditionFailed')) throw error;
    }
  }
}

/**
 * Creates the email activity of a tracked message: parties resolved, regarding from the email it answers,
 * attachments copied up to the organization's limit (the rest skipped and said so in `notifications`), then the
 * state Received or Sent. Every write is idempotent (derived ids, create-only), so a retry or a second mailbox's
 * copy finishes what a first attempt began instead of duplicating it.
 */
async function createActivity(rt: Runtime, mailbox: Mailbox, message: Message, key: string, direction: EmailDirection): Promise<string> {
  const activityId = emailActivityId(key, direction);
  const resolved = await resolveEmailParties(rt, messageParties(message));
  const regarding = await regardingOfReply(rt, message);
  // hasAttachments is false when there are only inline attachments (email.md section 2.1): look when the HTML has cid:.
  const listed = message.hasAttachments || /cid:/i.test(message.body?.content ?? '') ? await rt.graph.listAttachments(mailbox.id, message.id!) : [];
  const plan = attachmentPlan(listed, await maxUploadFileSize(rt));
  const body = emailFromMessage(message, { direction, parties: resolved, ownerSystemUserId: mailbox.systemUserId, regarding }, { now: rt.now(), mailbox: { address: mailbox.address, systemUserId: mailbox.systemUserId }, timeZone: mailbox.timeZone });
  if (plan.skipped.length > 0) body.notifications = notificationAttachmentsSkipped;
  let record: DataverseRecord | undefined;
  try {
    record = await rt.dataverse.update('email', activityId, body, { createOnly: true, callerObjectId: mailbox.id });
  } catch (error) {
    if (!isSyncError(error, 'AlreadyExists')) throw error;
    record = await rt.dataverse.get('email', activityId, { select: ['activityid', 'statecode', 'statuscode'] });
  }
  let tooLarge = 0;
  for (const a of plan.copy) {
    const file = await rt.graph.getAttachment(mailbox.id, message.id!, a.id!);
    try {
      await rt.dataverse.update(
        'activitymimeattachment',
        attachmentRecordId(activityId, a.id!),
        { filename: (file.name ?? 'attachment').slice(0, 255), mimetype: file.contentType ?? 'application/octet-stream', body: file.contentBytes ?? '', 'objectid_email@odata.bind': `/emails(${activityId})`, objecttypecode: 'email' },
        { createOnly: true, callerObjectId: mailbox.id },
      );
    } catch (error) {
      if (isSyncError(error, 'AlreadyExists')) continue;
      // 0x80044a02 "Attachment file size is too big": the limit measured another way than Graph's size (E8).
      if (isSyncError(error) && (error.serviceCode?.toLowerCase() === '0x80044a02' || error.code === 'TooLarge')) {
        tooLarge += 1;
        continue;
      }
      throw error;
    }
  }
  const state = direction === 'incoming' ? EmailStatus.Received : EmailStatus.Sent;
  if (tooLarge > 0 && plan.skipped.length === 0 && record?.statecode !== 1) await rt.dataverse.update('email', activityId, { notifications: notificationAttachmentsSkipped }, { callerObjectId: mailbox.id });
  if (record?.statecode !== state.statecode || record?.statuscode !== state.statuscode) await rt.dataverse.update('email', activityId, { ...state }, { callerObjectId: mailbox.id });
  await link(rt, mailbox, message, key, activityId, direction);
  await rt.email.count(mailbox.id, 'tracked');
  const skipped = plan.skipped.length + tooLarge;
  rt.log.info('email tracked', { mailboxId: mailbox.id, dataverseId: activityId, direction, attachments: plan.copy.length - tooLarge, attachmentsSkipped: skipped, regarding: regarding !== undefined });
  return activityId;
}

// ------------------------------------------------------------------------------------------------------------
// Dynamics 365 -> Exchange
// ------------------------------------------------------------------------------------------------------------

const isPending = (statuscode: unknown) => statuscode === EmailStatus.PendingSend.statuscode || statuscode === EmailStatus.Sending.statuscode;

async function applyDataverseChange(rt: Runtime, change: DataverseChange): Promise<Outcome[]> {
  const id = change.recordId;
  if (change.message === 'Delete') return unlinkEverywhere(rt, id, 'email deleted in Dynamics 365: the mail stays');
  // Most email changes are not sends: the post image says so without a read. (A send that failed and whose claim
  // was not marked yet left the email Pending Send, so its image is never taken for "not Pending Send".)
  if (change.image && change.image.statuscode !== undefined && !isPending(change.image.statuscode)) {
    return [{ kind: 'ignored', dataverseId: id, detail: 'not Pending Send' }];
  }
  const claim = await rt.email.getClaim(id);
  const record = await rt.dataverse.get('email', id, { expand: partySelect });
  if (!record) return unlinkEverywhere(rt, id, 'email gone');
  const partyRows = (record[parties] as EmailPartyRow[] | undefined) ?? [];
  const from = partyRows.find((p) => p.participationtypemask === 1)?._partyid_value?.toLowerCase() ?? undefined;
  const cached = from ? (await rt.mailboxes.enabledBySystemUsers([from])).get(from) : undefined;
  const enabled = cached && cached.entities.includes('email') ? await rt.mailboxes.get(cached.id) : undefined;
  const senderMailbox = enabled && enabled.state !== 'disabled' && enabled.entities.includes('email') ? enabled : undefined;
  // The sender's mailbox error policy: a paused mailbox sends when its pause ends, a blocked one does not send.
  const gate = senderMailbox ? gateFor(rt, senderMailbox) : undefined;
  if (senderMailbox && gate?.gate === 'wait') return [pausedOutcome(senderMailbox, gate.until, { dataverseId: id })];
  if (senderMailbox && gate?.gate === 'skip') return [{ kind: 'ignored', mailboxId: senderMailbox.id, dataverseId: id, detail: gate.reason }];
  if (senderMailbox && gate?.gate === 'go') return forMailbox(rt, senderMailbox, gate, () => sendFrom(rt, change, record, partyRows, from, senderMailbox, claim));
  return sendFrom(rt, change, record, partyRows, from, undefined, claim);
}

/** Plans and runs the send of a Pending Send email from its sender's mailbox (or refuses it when there is none). */
async function sendFrom(rt: Runtime, change: DataverseChange, record: DataverseRecord, partyRows: EmailPartyRow[], from: string | undefined, senderMailbox: Mailbox | undefined, claim: Awaited<ReturnType<Runtime['email']['getClaim']>>): Promise<Outcome[]> {
  // Checked before every send, not only at enable: server-side sync would send it too (email.md section 4).
  const outgoingMethod = senderMailbox ? await outgoingDeliveryMethod(rt, senderMailbox.systemUserId) : undefined;
  const actions = planSend({
    record: { statecode: Number(record.statecode), statuscode: Number(record.statuscode), directioncode: typeof record.directioncode === 'boolean' ? record.directioncode : undefined },
    senderSystemUserId: from,
    senderMailbox,
    outgoingMethod,
    claim,
  });
  const outcomes: Outcome[] = [];
  for (const action of actions) outcomes.push(await runSend(rt, change, record, partyRows, senderMailbox, claim, action));
  return outcomes;
}

async function outgoingDeliveryMethod(rt: Runtime, systemUserId: string): Promise<number | undefined> {
  const [row] = await rt.dataverse.query('mailbox', { filter: `_regardingobjectid_value eq ${systemUserId}`, select: ['mailboxid', 'outgoingemaildeliverymethod'], top: 1 });
  return typeof row?.outgoingemaildeliverymethod === 'number' ? row.outgoingemaildeliverymethod : undefined;
}

async function unlinkEverywhere(rt: Runtime, id: string, reason: string): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const mailboxId of await rt.pairs.mailboxesOf(id)) {
    const pair = await rt.pairs.get(mailboxId, id);
    if (!pair) continue;
    await rt.pairs.remove(pair);
    outcomes.push({ kind: 'unlinked', mailboxId, dataverseId: id, detail: reason });
  }
  return outcomes.length ? outcomes : [{ kind: 'ignored', dataverseId: id, detail: reason }];
}

type ClaimWithEtag = SendClaim & { etag: string };

async function runSend(rt: Runtime, change: DataverseChange, record: DataverseRecord, partyRows: readonly EmailPartyRow[], mailbox: Mailbox | undefined, claim: ClaimWithEtag | undefined, action: EmailAction): Promise<Outcome> {
  const id = change.recordId;
  switch (action.type) {
    case 'Ignore':
      return { kind: 'ignored', dataverseId: id, detail: action.reason };
    case 'MarkSent':
      await markSent(rt, mailbox ?? ({ id: claim!.mailboxId } as Mailbox), id, claim!, record.statuscode);
      return { kind: 'sent', mailboxId: claim!.mailboxId, dataverseId: id, detail: action.reason };
    case 'MarkFailed':
      await markFailed(rt, claim!, action.reason);
      return { kind: 'send-failed', mailboxId: claim!.mailboxId, dataverseId: id, detail: action.reason };
    case 'Send':
      return send(rt, change, record, partyRows, mailbox!, action.reuseDraft ? claim : undefined, claim);
    default:
      throw new SyncError('Internal', `a send plan cannot hold ${action.type}`);
  }
}

/**
 * Sends a Pending Send email from the sender's mailbox, exactly once. The claim row records how far it got:
 * claimed (a draft may exist: found by its id, or by the stamp when the answer of its create was lost),
 * submitted (`send` was called: if the draft has left Drafts the mail went out and is never sent again), then sent
 * or failed. The submission waits for a slot of the mailbox's pace (Exchange's sending limit), so a burst drains
 * at the limit instead of being refused.
 */
async function send(rt: Runtime, change: DataverseChange, record: DataverseRecord, partyRows: readonly EmailPartyRow[], mailbox: Mailbox, resume: ClaimWithEtag | undefined, previous: ClaimWithEtag | undefined): Promise<Outcome> {
  const id = change.recordId;
  const ids = { mailboxId: mailbox.id, dataverseId: id };
  let claim: SendClaim;
  let etag: string;
  if (resume) {
    ({ etag, ...claim } = resume);
  } else {
    claim = { activityId: id, mailboxId: mailbox.id, state: 'claimed', at: rt.now().toISOString() };
    try {
      etag = previous ? await rt.email.updateClaim(claim, previous.etag) : await rt.email.createClaim(claim);
    } catch (error) {
      // Someone else claimed it in between (a duplicated change): look again, from the claim.
      if (isSyncError(error, 'AlreadyExists') || isSyncError(error, 'PreconditionFailed')) throw new SyncError('Transient', 'the send was claimed concurrently');
      throw error;
    }
  }
  const save = async (next: SendClaim) => {
    etag = await rt.email.updateClaim(next, etag);
    claim = next;
  };

  // The draft: the one this claim made, else one stamped with the activity id (a create whose answer was lost), else a new one.
  let draft: Message | undefined;
  if (claim.draftId) {
    const current = await orUndefined(() => rt.graph.getMessage(mailbox.id, claim.draftId!, ['id', 'isDraft', 'internetMessageId']), notFound);
    if (current?.isDraft) draft = current;
    else if (claim.state === 'submitted' || current) {
      // Out of Drafts after a submission (Outbox, Sent Items, or gone from the sent copy's new id): it went out.
      await markSent(rt, mailbox, id, { ...claim, etag }, record.statuscode);
      return { kind: 'sent', ...ids, detail: 'submitted earlier; not sent again' };
    }
  }
  if (!draft && resume) {
    // Kept on the claim before the send, so a lost answer of the send is known to be this draft's (gone = went out).
    draft = await findDraft(rt, mailbox, id);
    if (draft) await save({ ...claim, draftId: draft.id!, ...(draft.internetMessageId ? { internetMessageId: draft.internetMessageId } : {}) });
  }
  if (!draft) {
    try {
      draft = await composeDraft(rt, mailbox, record, partyRows, id);
    } catch (error) {
      const sync = toSyncError(error);
      const failure = classifySendFailure(sync.status, sync.serviceCode);
      if (failure.outcome === 'failed' && !sync.retryable) return fail(rt, { ...claim, etag }, ids, failure.reason);
      throw error;
    }
    await save({ ...claim, draftId: draft.id!, ...(draft.internetMessageId ? { internetMessageId: draft.internetMessageId } : {}) });
  }

  // The pace: one slot per send, kept on the claim, so a deferred send keeps its place.
  if (claim.slotAt === undefined) await save({ ...claim, slotAt: await reserveSlot(rt, mailbox.id) });
  const now = rt.now().getTime();
  if (claim.slotAt! > now + 20) {
    await rt.sender.send([{ ...change, message: 'Reconcile', version: `paced-${claim.slotAt}`, image: undefined, lastError: undefined }], { scheduledEnqueueTime: new Date(claim.slotAt!) });
    rt.log.info('email send paced', { ...ids, waitMs: claim.slotAt! - now });
    return { kind: 'deferred', ...ids, detail: "waits for a slot of Exchange's sending limit" };
  }

  await save({ ...claim, state: 'submitted' });
  try {
    await rt.graph.sendDraft(mailbox.id, draft.id!);
  } catch (error) {
    const sync = toSyncError(error);
    // The draft not found: it left Drafts after this claim was submitted, so it went out (another attempt of this
    // email sent it: chaos seed 11 x 1000), as the next attempt would conclude from the draft gone. Not a refusal,
    // and Sent Items cannot tell: Exchange makes the copy only once the mail went out, "which can take time"
    // (https://learn.microsoft.com/graph/outlook-immutable-id#immutable-id-with-sending-mail; test/e2e/email.test.ts).
    if (sync.status === 404 && sync.serviceCode === 'ErrorItemNotFound') {
      await markSent(rt, mailbox, id, { ...claim, etag }, record.statuscode);
      return { kind: 'sent', ...ids, detail: 'the draft left Drafts after its submission; not sent again' };
    }
    const failure = classifySendFailure(sync.status, sync.serviceCode);
    if (failure.outcome === 'failed' && !sync.retryable) return fail(rt, { ...claim, etag }, ids, failure.reason);
    // Refused before anything was sent (429): the next attempt takes a new slot. Otherwise the answer may be lost:
    // the claim stays "submitted", and the next attempt looks at the draft before it sends anything.
    if (sync.code === 'Throttled') await save({ ...claim, state: 'claimed', slotAt: undefined });
    throw sync;
  }
  await markSent(rt, mailbox, id, { ...claim, etag }, record.statuscode);
  return { kind: 'sent', ...ids };
}

/** A draft stamped with the activity id (one whose create's answer was lost). */
async function findDraft(rt: Runtime, mailbox: Mailbox, activityId: string): Promise<Message | undefined> {
  const [draft] = await rt.graph.findMessages(mailbox.id, stampFilter(activityId), { folder: 'drafts', select: ['id', 'isDraft', 'internetMessageId'] });
  return draft;
}

/** The draft of a Pending Send email: a reply in the original's thread when it answers a tracked mail, else a new message. */
async function composeDraft(rt: Runtime, mailbox: Mailbox, record: DataverseRecord, partyRows: readonly EmailPartyRow[], activityId: string): Promise<Message> {
  const addresses = await recipientAddresses(rt, partyRows);
  const body = draftFromEmail(record, addresses, activityId);
  const original = await originalInMailbox(rt, mailbox, record);
  let draft: Message;
  if (original) {
    // createReply keeps In-Reply-To, References and the conversation; the Dynamics 365 email's own text and
    // recipients replace the draft's (https://learn.microsoft.com/graph/api/message-createreply).
    // Stamped as it is made, so a create whose answer was lost is found instead of made twice.
    const reply = await rt.graph.createReplyDraft(mailbox.id, original, { message: { singleValueExtendedProperties: body.singleValueExtendedProperties }, find: () => findDraft(rt, mailbox, activityId) });
    draft = await rt.graph.updateMessage(mailbox.id, reply.id!, body);
  } else {
    draft = await rt.graph.createDraft(mailbox.id, body, () => findDraft(rt, mailbox, activityId));
  }
  const files = await rt.dataverse.query('activitymimeattachment', { filter: `_objectid_value eq ${activityId}`, select: ['activitymimeattachmentid', 'filename', 'mimetype', 'body', 'filesize'] });
  const str = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);
  for (const f of files) {
    const size = typeof f.filesize === 'number' ? f.filesize : Buffer.byteLength(str(f.body, ''), 'base64');
    if (size > inlineAttachmentLimit) throw new SyncError('InvalidInput', `attachment ${String(f.activitymimeattachmentid)} is ${size} bytes: attachments over 3 MB need an upload session, which this version does not do`, { status: 400, serviceCode: 'AttachmentTooLargeForDraft' });
    await rt.graph.addFileAttachment(mailbox.id, draft.id!, { name: str(f.filename, 'attachment'), contentType: str(f.mimetype, 'application/octet-stream'), contentBytes: str(f.body, '') });
  }
  return draft;
}

/** Addresses of the recipients: `addressused`, else the party record's primary address (a contact's emailaddress1). */
async function recipientAddresses(rt: Runtime, partyRows: readonly EmailPartyRow[]): Promise<{ mask: number; address: string }[]> {
  const out: { mask: number; address: string }[] = [];
  for (const p of partyRows) {
    if (p.participationtypemask < 2 || p.participationtypemask > 4) continue;
    let address = p.addressused ?? undefined;
    if (!address && p._partyid_value) {
      for (const [table, column] of [['contact', 'emailaddress1'], ['systemuser', 'internalemailaddress'], ['account', 'emailaddress1'], ['lead', 'emailaddress1']] as const) {
        const row = await orUndefined(() => rt.dataverse.get(table, p._partyid_value!, { select: [column] }), notFound);
        if (typeof row?.[column] === 'string') {
          address = row[column];
          break;
        }
      }
    }
    // A contact without an address makes the send fail, as in Dynamics 365 (faq-email-tracking section 3).
    if (!address) throw new SyncError('InvalidInput', 'a recipient has no e-mail address', { status: 400, serviceCode: 'ErrorInvalidRecipients' });
    out.push({ mask: p.participationtypemask, address });
  }
  return out;
}

/** The tracked message this email answers, in the sender's mailbox (by its Message-ID), when it is one. */
async function originalInMailbox(rt: Runtime, mailbox: Mailbox, record: DataverseRecord): Promise<string | undefined> {
  const parent = record._parentactivityid_value;
  if (typeof parent !== 'string') return undefined;
  const original = await rt.dataverse.get('email', parent, { select: ['messageid'] });
  const messageId = typeof original?.messageid === 'string' ? original.messageid : undefined;
  if (!messageId) return undefined;
  const [found] = await rt.graph.findMessages(mailbox.id, `internetMessageId eq ${odataString(messageId)}`, { select: ['id'] });
  return found?.id ?? undefined;
}

/** Takes the next slot of the mailbox's pace (conditional write; a concurrent sender makes it read again). */
async function reserveSlot(rt: Runtime, mailboxId: string): Promise<number> {
  const limit = rt.settings.SYNC_EMAIL_SENDS_PER_WINDOW;
  const windowMs = rt.settings.SYNC_EMAIL_SEND_WINDOW_MS;
  for (let attempt = 0; attempt < 20; attempt++) {
    const now = rt.now().getTime();
    const pace = await rt.email.getPace(mailboxId);
    const taken = liveSlots(pace.times, now, windowMs);
    const slot = nextSendSlot(taken, now, limit, windowMs);
    try {
      await rt.email.putPace(mailboxId, [...taken, slot].sort((a, b) => a - b), pace.etag);
      return slot;
    } catch (error) {
      if (!isSyncError(error, 'PreconditionFailed') && !isSyncError(error, 'AlreadyExists')) throw error;
    }
  }
  throw new SyncError('Transient', 'the send pace of the mailbox is busy');
}

/** Marks the email Sent (Completed/3), keeps its Message-ID for replies, and closes the claim. */
async function markSent(rt: Runtime, mailbox: Mailbox, id: string, claim: ClaimWithEtag, statuscode: unknown): Promise<void> {
  // `statuscode` is the email's as the plan read it (Pending Send, or Sending): setting Sent again is harmless.
  if (statuscode !== EmailStatus.Sent.statuscode) await rt.dataverse.update('email', id, { ...EmailStatus.Sent }, { callerObjectId: mailbox.id });
  // A Completed email is read-only (email.md, StateCode), so `messageid` cannot be written after the send: the
  // sync keeps the Message-ID, and a reply to this mail finds its activity by it.
  const key = normalizeMessageId(claim.internetMessageId);
  if (key && !(await rt.email.getKey(key, 'outgoing'))) {
    await rt.email.createKey(key, { activityId: id, direction: 'outgoing', seenIn: [claim.mailboxId], createdOn: rt.now().toISOString() }).catch((error: unknown) => {
      if (!isSyncError(error, 'AlreadyExists')) throw error;
    });
  }
  const { etag, ...value } = claim;
  if (claim.state !== 'sent') {
    await rt.email.updateClaim({ ...value, state: 'sent', at: rt.now().toISOString() }, etag);
    await rt.email.count(claim.mailboxId, 'sent');
  }
  rt.log.info('email sent', { mailboxId: claim.mailboxId, dataverseId: id });
}

async function fail(rt: Runtime, claim: ClaimWithEtag, ids: { mailboxId: string; dataverseId: string }, reason: string): Promise<Outcome> {
  const { etag, ...value } = claim;
  const failed: SendClaim = { ...value, state: 'failed', reason: reason.slice(0, 300), at: rt.now().toISOString() };
  const next = await rt.email.updateClaim(failed, etag);
  await markFailed(rt, { ...failed, etag: next }, reason);
  return { kind: 'send-failed', ...ids, detail: reason };
}

/** Marks the email Failed (Open/8: a failed send is reopened, email.md section 0.3) and says why in status. */
async function markFailed(rt: Runtime, claim: ClaimWithEtag, reason: string): Promise<void> {
  const id = claim.activityId;
  const current = await rt.dataverse.get('email', id, { select: ['statecode', 'statuscode', 'deliveryattempts'] });
  if (current && current.statuscode !== EmailStatus.Failed.statuscode) {
    await rt.dataverse.update('email', id, { ...EmailStatus.Failed }, { callerObjectId: claim.mailboxId });
    await rt.dataverse.update('email', id, { deliveryattempts: (typeof current.deliveryattempts === 'number' ? current.deliveryattempts : 0) + 1 }, { callerObjectId: claim.mailboxId });
  }
  // The draft stays out of the user's way: a failed send leaves nothing in Drafts.
  if (claim.draftId) await rt.graph.deleteMessage(claim.mailboxId, claim.draftId).catch(() => undefined);
  const { etag, ...value } = claim;
  await rt.email.updateClaim({ ...value, state: 'failed', reason: reason.slice(0, 300), marked: true }, etag);
  await rt.email.count(claim.mailboxId, 'failed', { activityId: id, reason: reason.slice(0, 300), at: rt.now().toISOString() });
  rt.log.warn('email send failed', { mailboxId: claim.mailboxId, dataverseId: id, reason });
}

// ------------------------------------------------------------------------------------------------------------
// The kind
// ------------------------------------------------------------------------------------------------------------

const notFieldSynced = (what: string) => (): never => {
  throw new SyncError('Internal', `email is not synced field by field (${what}): its flow handles every change`);
};

export const emailKind: SyncKind<'email'> = {
  name: 'email',
  tables: ['email'],
  primaryKey: 'activityid',
  partyNavigation: () => parties,
  partyColumns: () => ({ from: 1, to: 2, cc: 3, bcc: 4 }),
  resource: 'message',
  // One subscription on every folder of the mailbox (a mail tracked anywhere, Inbox or Sent Items).
  subscription: { kind: 'messages', path: (id) => `/users/${id}/messages` },
  hasColumn: () => true,
  extraColumns: ['directioncode'],
  fields: emailFields,
  directions: {},
  optIn: true,

  snapshotFromDataverse: () => ({}),
  snapshotFromExchange: () => ({}),
  exchangeCreate: notFieldSynced('exchangeCreate'),
  dataverseCreate: notFieldSynced('dataverseCreate'),
  exchangeBody: notFieldSynced('exchangeBody'),
  dataverseBody: notFieldSynced('dataverseBody'),

  exchange: {
    get: async (rt, mailbox, id) => orUndefined(() => rt.graph.getMessage(mailbox.id, id, messageSelect, activityIdProperty), notFound),
    create: notFieldSynced('exchange.create'),
    update: notFieldSynced('exchange.update'),
    remove: notFieldSynced('exchange.remove'),
    findExisting: () => Promise.resolve(undefined),
    stampOf: (item) => ((item as { singleValueExtendedProperties?: { id?: string; value?: string }[] }).singleValueExtendedProperties ?? []).find((p) => p.id?.toLowerCase() === activityIdProperty.toLowerCase())?.value,
  },
  dataverse: {
    get: (rt, _table, id) => rt.dataverse.get('email', id, { expand: partySelect }),
    findLinkTarget: () => Promise.resolve(undefined),
    findExisting: () => Promise.resolve([]),
  },

  // Backfill leaves email to its flow: matching every email the user is a party to would enqueue each one only to
  // be ignored. Mail tracked before the enable comes in by the message delta's first, full round (below), and a
  // Pending Send email by its change.
  backfill: {
    listRecords: () => Promise.resolve([]),
    listItems: () => Promise.resolve([]),
    match: () => undefined,
  },
  delta: {
    collection: 'messages',
    /**
     * The delta of Inbox and Sent Items (message delta is per folder: https://learn.microsoft.com/graph/delta-query-messages).
     * Only what can matter is enqueued: a message carrying the tracking category that no pair holds yet, and a
     * paired message that lost the category or left the folder. The first round of a folder is a full one, so it
     * also picks up mail tracked before the mailbox was enabled for email.
     */
    async round(rt, mailbox, _window, ctx) {
      const category = rt.settings.SYNC_EMAIL_CATEGORY.toLowerCase();
      const listed: DeltaItem[] = [];
      let full = true;
      for (const folder of deltaFolders) {
        const name = `${mailbox.id}|${folder}`;
        const link = await rt.cursors.get<string>(messagesDeltaScope, name);
        const page = await ctx.fromLink(link, (l) => rt.graph.messagesDelta(mailbox.id, l ? { link: l } : { folder, select: ['id', 'categories', 'isDraft'] }));
        full &&= page.full;
        if (page.full) listed.push(...page.items);
        const matters: DeltaItem[] = [];
        for (const item of page.items) {
          if (!item.id) continue;
          const pair = await rt.pairs.getByExchangeId(mailbox.id, item.id);
          const tracked = (item.categories ?? []).some((c) => c.toLowerCase() === category);
          const removed = item['@removed'] !== undefined;
          if (pair ? tracked && !removed : !tracked || removed) ctx.skip(1);
          else matters.push(item);
        }
        await ctx.enqueue(matters, undefined, page.full ? 'resync' : 'listing');
        if (page.deltaLink) await rt.cursors.set(messagesDeltaScope, name, page.deltaLink);
      }
      // Both folders listed whole: a pair neither listed is a message gone while no token was kept, and the worker
      // reads it and unlinks (the breaker hears the listing too; an email is never deleted on either side).
      if (full) await ctx.afterFullRound(listed, undefined);
    },
  },

  // An email reaches its sender's mailbox only (the one that sends it).
  scopeOf: (_table, record) => {
    const from = ((record[parties] as EmailPartyRow[] | undefined) ?? []).find((p) => p.participationtypemask === 1)?._partyid_value;
    return from ? [from.toLowerCase()] : [];
  },
  isTracked: (item) => ((item as Message).categories ?? []).length > 0,
  directionsFor: () => ({}),
  writeNeedsRecord: () => false,
  shapeExchangePatch: (patch) => patch,
  dataverseDeleteReads: 'nothing',
  onDataverseDelete: () => ({ delete: false, reason: 'an email deleted in Dynamics 365 leaves the mail alone' }),
  exchangeDeleteReads: 'nothing',
  onExchangeDelete: () => ({ delete: false, reason: 'a tracked mail deleted in Exchange leaves the activity (server-side sync does not delete it)' }),
  endsExchangeItem: () => undefined,
  unsupportedRecord: () => undefined,
  unsupportedItem: () => undefined,
  itemFacts: () => ({}),
  recordIdFor: (mailboxId, item) => recordIdForExchangeItem(mailboxId, item.id!),
  flow: { applyExchangeChange, applyDataverseChange },
};
