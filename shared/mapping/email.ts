// Tracked email, pure: an Exchange message (Graph) -> a Dynamics 365 email activity, and a Pending Send email ->
// the draft that goes out through the sender's mailbox. Email is not merged field by field as appointments are: a
// tracked message becomes one activity once (server-side synchronization promotes a mail, it does not keep it in
// step: https://learn.microsoft.com/power-platform/admin/use-outlook-category-track-appointments-emails), and an
// email sent from Dynamics 365 is written to Exchange once. The rows below document what is copied each way.
import type { Message, Recipient } from '@microsoft/microsoft-graph-types';
import type { MappingContext } from './context.js';
import type { UnsyncedRow } from './fieldTable.js';

/**
 * email statuscode values and the statecode each belongs to
 * (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/email, StateCode/StatusCode):
 * 0 Open {1 Draft, 8 Failed}, 1 Completed {2 Completed, 3 Sent, 4 Received, 6 Pending Send, 7 Sending}, 2 Canceled {5}.
 */
export const EmailStatus = {
  Draft: { statecode: 0, statuscode: 1 },
  Failed: { statecode: 0, statuscode: 8 },
  Completed: { statecode: 1, statuscode: 2 },
  Sent: { statecode: 1, statuscode: 3 },
  Received: { statecode: 1, statuscode: 4 },
  PendingSend: { statecode: 1, statuscode: 6 },
  Sending: { statecode: 1, statuscode: 7 },
} as const;

/** `email.notifications`: 1 = not all attachments were saved (email.md, Notifications choices). */
export const notificationAttachmentsSkipped = 1;
/** email.subject is String(800) (email.md). */
export const subjectMaxLength = 800;

/** The named property the sync stamps on a message it tracked or sent: the email activity's id. */
export const activityIdProperty = 'String {66f5a359-4659-4830-9070-00047ec6ac6e} Name dxsActivityId';

/** Graph `$select` of a message as the tracking reads it (email.md section 2.1; headers only come when selected). */
export const messageSelect = [
  'id',
  'subject',
  'body',
  'from',
  'sender',
  'toRecipients',
  'ccRecipients',
  'bccRecipients',
  'receivedDateTime',
  'sentDateTime',
  'internetMessageId',
  'internetMessageHeaders',
  'conversationId',
  'categories',
  'isDraft',
  'parentFolderId',
  'hasAttachments',
  'importance',
];

const row = (name: string, dataverse: string[], graph: string[], toExchange: string, toDataverse: string): UnsyncedRow => ({ name, dataverse, graph, direction: 'None', conversion: { toExchange, toDataverse } });

/**
 * What is copied, once, each way. Direction None: nothing is merged after the copy (an edit of a tracked email in
 * Dynamics 365 does not change the mail, and a sent mail cannot change).
 */
export const emailFields: readonly UnsyncedRow[] = [
  row('subject', ['subject'], ['subject'], 'the draft\'s subject (with the tracking token SendEmail added)', 'the subject, cut to 800 characters'),
  row('body', ['description'], ['body'], 'HTML body', 'the HTML (or text) body'),
  row('parties', ['email_activity_parties'], ['from', 'toRecipients', 'ccRecipients', 'bccRecipients'], 'To/Cc/Bcc from the parties\' addresses', 'From 1, To 2, Cc 3, Bcc 4; resolved to system user, contact, account or lead, else the address alone'),
  row('direction', ['directioncode'], ['from', 'parentFolderId'], 'outgoing only', 'outgoing when the mailbox owner sent it, else incoming'),
  row('messageId', ['messageid'], ['internetMessageId'], 'the Sent copy\'s internetMessageId, kept in the sync\'s store (a Completed email is read-only)', 'the Message-ID'),
  row('time', ['actualend'], ['receivedDateTime', 'sentDateTime'], '-', 'received (incoming) or sent (outgoing) time'),
  row('state', ['statecode', 'statuscode'], [], 'Pending Send -> Sent, or Failed with the reason', 'Received (incoming) or Sent (outgoing)'),
  row('attachments', ['activitymimeattachment'], ['attachments'], 'file attachments of the email', 'file attachments up to the organization\'s maxuploadfilesize; larger ones are skipped and the email says so (notifications 1); links (reference attachments) are skipped'),
  row('regarding', ['regardingobjectid'], ['internetMessageHeaders In-Reply-To'], 'a reply keeps its thread (createReply on the tracked original)', 'taken from the tracked email the message replies to'),
];

/**
 * The dedup key of a message: its Message-ID trimmed, lower-cased, with the angle brackets kept (email.md section
 * 5.1 b). One activity exists per (Message-ID, direction), not per copy: "The system identifies Sent and Incoming
 * as separate emails" (https://learn.microsoft.com/dynamics365/outlook-app/user/faq-email-tracking).
 */
export function normalizeMessageId(id: string | null | undefined): string | undefined {
  const trimmed = (id ?? '').trim().toLowerCase();
  if (!trimmed) return undefined;
  return trimmed.startsWith('<') ? trimmed : `<${trimmed}>`;
}

export type EmailDirection = 'incoming' | 'outgoing';

const addressOf = (r: Recipient | null | undefined) => r?.emailAddress?.address?.trim().toLowerCase() ?? '';

/** Outgoing when the mailbox owner sent it (or it lies in Sent Items), otherwise incoming (email.md section 5.1 b). */
export function messageDirection(message: Message, owner: { address: string; userPrincipalName: string }, sentItemsFolderId: string | undefined): EmailDirection {
  const from = addressOf(message.from);
  if (from && (from === owner.address.toLowerCase() || from === owner.userPrincipalName.toLowerCase())) return 'outgoing';
  if (sentItemsFolderId && message.parentFolderId === sentItemsFolderId) return 'outgoing';
  return 'incoming';
}

/** The header's value on a message (case-insensitive name), when Graph returned the headers. */
export function headerOf(message: Message, name: string): string | undefined {
  return message.internetMessageHeaders?.find((h) => h.name?.toLowerCase() === name.toLowerCase())?.value ?? undefined;
}

/** Message-IDs the message answers: In-Reply-To first, then References from the newest (RFC 5322 section 3.6.4). */
export function repliedMessageIds(message: Message): string[] {
  const ids = (value: string | undefined) => (value?.match(/<[^>]+>/g) ?? []).map((v) => normalizeMessageId(v)!).filter(Boolean);
  const inReplyTo = ids(headerOf(message, 'In-Reply-To'));
  const references = ids(headerOf(message, 'References')).reverse();
  return [...new Set([...inReplyTo, ...references])];
}

/** A party as the mapping writes it: resolved to a record (`bind` = "partyid_contact@odata.bind") or only an address. */
export interface ResolvedParty {
  mask: 1 | 2 | 3 | 4;
  address: string;
  bind?: { property: string; path: string } | undefined;
}

/** Every address of the message with its participation mask (From 1, To 2, Cc 3, Bcc 4; email.md section 3.1). */
export function messageParties(message: Message): { mask: 1 | 2 | 3 | 4; address: string }[] {
  const out: { mask: 1 | 2 | 3 | 4; address: string }[] = [];
  const add = (mask: 1 | 2 | 3 | 4, list: readonly Recipient[] | null | undefined) => {
    for (const r of list ?? []) {
      const address = addressOf(r);
      if (address) out.push({ mask, address });
    }
  };
  add(1, message.from ? [message.from] : []);
  add(2, message.toRecipients);
  add(3, message.ccRecipients);
  add(4, message.bccRecipients);
  return out;
}

/** The body of the new email activity for a tracked message (create; the state is set after, as on other activities). */
export function emailFromMessage(
  message: Message,
  input: { direction: EmailDirection; parties: readonly ResolvedParty[]; ownerSystemUserId: string; regarding?: { property: string; path: string } | undefined },
  _ctx: MappingContext,
): Record<string, unknown> {
  const subject = message.subject ?? '';
  const when = input.direction === 'incoming' ? (message.receivedDateTime ?? message.sentDateTime) : (message.sentDateTime ?? message.receivedDateTime);
  return {
    subject: subject.length > subjectMaxLength ? subject.slice(0, subjectMaxLength) : subject,
    description: message.body?.content ?? '',
    directioncode: input.direction === 'outgoing',
    messageid: normalizeMessageId(message.internetMessageId),
    ...(when ? { actualend: new Date(when).toISOString().replace(/\.\d{3}Z$/, 'Z') } : {}),
    'ownerid@odata.bind': `/systemusers(${input.ownerSystemUserId})`,
    ...(input.regarding ? { [input.regarding.property]: input.regarding.path } : {}),
    email_activity_parties: input.parties.map((p) => (p.bind ? { participationtypemask: p.mask, [p.bind.property]: p.bind.path, addressused: p.address } : { participationtypemask: p.mask, addressused: p.address })),
  };
}

/** A party of a Dataverse email as read with the parties expanded. */
export interface EmailPartyRow {
  participationtypemask: number;
  addressused?: string | null;
  _partyid_value?: string | null;
}

/** The draft for a Pending Send email: subject, HTML body, To/Cc/Bcc by address, stamped with the activity id. */
export function draftFromEmail(record: Record<string, unknown>, addresses: readonly { mask: number; address: string }[], activityId: string): Message {
  const recipients = (mask: number): Recipient[] => addresses.filter((a) => a.mask === mask).map((a) => ({ emailAddress: { address: a.address } }));
  return {
    subject: typeof record.subject === 'string' ? record.subject : '',
    body: { contentType: 'html', content: typeof record.description === 'string' ? record.description : '' },
    toRecipients: recipients(2),
    ccRecipients: recipients(3),
    bccRecipients: recipients(4),
    singleValueExtendedProperties: [{ id: activityIdProperty, value: activityId }],
  };
}

/** How a refused send ends, by Graph's error: Failed (the reason shown in status) or a wait (email.md section 5.2 6). */
export type SendFailure = { outcome: 'failed'; reason: string } | { outcome: 'retry' };

/** The rule for each refusal of a send. A code not listed: a 4xx fails the email, anything else is retried. */
export const sendFailureRules: readonly { code: string; outcome: SendFailure['outcome']; reason: string }[] = [
  { code: 'ErrorInvalidRecipients', outcome: 'failed', reason: 'Exchange refused a recipient (invalid address)' },
  { code: 'ErrorSendAsDenied', outcome: 'failed', reason: 'the sender may not send as the From address (send-as denied)' },
  { code: 'ErrorMessageSubmissionBlocked', outcome: 'failed', reason: "the sender's mailbox reached Exchange's recipient limit or is blocked from sending" },
  { code: 'ErrorMessageSizeExceeded', outcome: 'failed', reason: "the email is larger than the mailbox's maximum message size" },
  { code: 'ErrorSubmissionQuotaExceeded', outcome: 'retry', reason: "Exchange's sending limit: wait" },
];

/** Classifies a refused send from Graph's HTTP status and error code. */
export function classifySendFailure(status: number | undefined, code: string | undefined): SendFailure {
  const rule = sendFailureRules.find((r) => r.code === code);
  if (rule) return rule.outcome === 'failed' ? { outcome: 'failed', reason: rule.reason } : { outcome: 'retry' };
  if (status !== undefined && status >= 400 && status < 500 && status !== 408 && status !== 429 && status !== 401) {
    return { outcome: 'failed', reason: `Exchange refused the send (${status}${code ? ` ${code}` : ''})` };
  }
  return { outcome: 'retry' };
}
