// Email as the Dataverse platform runs it, on top of the generic engine (engine hooks):
// - the email activity's computed columns (sender, torecipients and emailsender from the party list);
// - the SendEmail action (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/reference/sendemail):
//   IssueSend true moves a Draft or Failed email to Completed / Pending Send (6), where server-side synchronization
//   (or our product) picks it up; IssueSend false "marks it as sent" (Completed / Sent, 3);
// - activitymimeattachment rows with the organization's maximum upload size (organization.maxuploadfilesize, 5 MB by
//   default; https://learn.microsoft.com/power-apps/developer/data-platform/attachment-annotation-files#file-size-limits),
//   filesize and the email's attachmentcount kept by the platform, attachments deleted with their activity;
// - one mailbox row per system user (mailbox.md), whose delivery methods say which engine owns the user's email.
import type { Caller, Engine, EngineHooks } from './engine.js';
import { DataverseError, badValue, notFound } from './errors.js';
import type { IdSource } from './prng.js';
import { entityDef, type EntityDef } from './schema.js';
import { isLookup, text, type LookupRef, type Row, type Store, type Value } from './store.js';
import { formatDateTime, isGuid } from './values.js';

export interface EmailOptions {
  /** organization.maxuploadfilesize at reset, bytes; default 5,242,880 (5 MB, the documented default). */
  maxUploadFileSize?: number;
  /**
   * What maxuploadfilesize is compared with: 'decoded' (default; the file's bytes, which is what `filesize` reports) or
   * 'base64' (the length of the Base64 `body` text). The docs do not say which.
   */
  attachmentSizeMeasure?: 'decoded' | 'base64';
  /**
   * Whether SendEmail's state change also runs steps on Update (statuscode) and SetState of email: 'update-and-sendemail'
   * (default; the platform updates the record while it processes the message) or 'sendemail-only'. Not documented.
   */
  sendEmailSteps?: 'update-and-sendemail' | 'sendemail-only';
  /** SendEmail without a TrackingToken: 'append' (default; a CRM:nnnnnnn token is added to the subject) or 'off'. */
  trackingToken?: 'append' | 'off';
  /** Delivery methods of the mailbox a new user gets; default server-side synchronization (incoming 2, outgoing 2, ACT 1). */
  mailboxDefaults?: Partial<MailboxMethods>;
}

/** The delivery-method columns of a mailbox row (mailbox.md choices). */
export interface MailboxMethods {
  incomingemaildeliverymethod: 0 | 1 | 2 | 3;
  outgoingemaildeliverymethod: 0 | 1 | 2;
  actdeliverymethod: 0 | 1 | 2;
}

/** What the admin API may set on a mailbox row. */
export type MailboxSettings = Partial<MailboxMethods> & {
  emailaddress?: string;
  enabledforincomingemail?: boolean;
  enabledforoutgoingemail?: boolean;
  enabledforact?: boolean;
  orgmarkedasprimaryforexchangesync?: boolean;
};

export interface EmailDeps {
  store: Store;
  engine: Engine;
  /** Ids of mailbox rows: a stream of their own, so seeding a user does not shift the ids of other records. */
  mailboxIds: IdSource;
  now: () => number;
  systemUserId: () => string;
  correlationId: () => string;
  options: EmailOptions;
}

export const DEFAULT_MAX_UPLOAD_FILE_SIZE = 5_242_880;

/** "Attachment file size is too big" (attachment-annotation-files.md, File size limits). */
export const ATTACHMENT_TOO_BIG = '0x80044a02';

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** The email platform of one simulator. */
export class EmailPlatform {
  private readonly email: EntityDef = entityDef('email');
  private readonly attachment: EntityDef = entityDef('activitymimeattachment');
  private readonly mailbox: EntityDef = entityDef('mailbox');
  private tokenCounter = 0;

  constructor(private readonly d: EmailDeps) {}

  // ---- organization ----

  /** Adds the email settings to the organization row (after the series platform seeded it). */
  seedOrganization(): void {
    this.tokenCounter = 0;
    this.patchOrganization({ maxuploadfilesize: this.d.options.maxUploadFileSize ?? DEFAULT_MAX_UPLOAD_FILE_SIZE });
  }

  maxUploadFileSize(): number {
    const v = [...this.d.store.table('organization').rows.values()][0]?.['maxuploadfilesize'];
    return typeof v === 'number' ? v : DEFAULT_MAX_UPLOAD_FILE_SIZE;
  }

  /** Changes organization.maxuploadfilesize (0..131,072,000 bytes, as the column allows). */
  setMaxUploadFileSize(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0 || bytes > 131_072_000) throw badValue(`maxuploadfilesize must be an integer from 0 to 131072000 bytes; got ${bytes}.`);
    this.patchOrganization({ maxuploadfilesize: bytes });
    return this.maxUploadFileSize();
  }

  private patchOrganization(values: Row): void {
    const table = this.d.store.table('organization');
    const row = [...table.rows.values()][0];
    if (!row) throw new Error('no organization row');
    const version = this.d.store.nextVersion();
    table.put({ ...row, ...values, versionnumber: version }, version);
  }

  // ---- mailboxes ----

  /** The mailbox row of a system user (regardingobjectid = the user). */
  mailboxOf(userId: string): Row | undefined {
    const table = this.d.store.table('mailbox');
    const id = [...(table.idsWhere('regardingobjectid', { id: userId.toLowerCase(), logicalName: 'systemuser' }) ?? [])][0];
    return id ? table.get(id) : undefined;
  }

  /** Sets mailbox columns quietly (an administrator's change for a test; no webhooks). */
  setMailbox(userId: string, settings: MailboxSettings): Row {
    const row = this.mailboxOf(userId);
    if (!row) throw notFound('mailbox', `for systemuser ${userId}`);
    return this.d.engine.update(this.mailbox, text(row['mailboxid']), settings, this.systemCaller(), { emit: false }).row;
  }

  private createMailbox(user: Row): void {
    const defaults = this.d.options.mailboxDefaults ?? {};
    const userRef: LookupRef = { id: text(user['systemuserid']), logicalName: 'systemuser' };
    const email = user['internalemailaddress'];
    this.d.engine.create(
      this.mailbox,
      {
        mailboxid: this.d.mailboxIds.guid(),
        name: typeof user['fullname'] === 'string' ? user['fullname'].slice(0, 100) : text(user['systemuserid']),
        ...(typeof email === 'string' ? { emailaddress: email } : {}),
        incomingemaildeliverymethod: defaults.incomingemaildeliverymethod ?? 2,
        outgoingemaildeliverymethod: defaults.outgoingemaildeliverymethod ?? 2,
        actdeliverymethod: defaults.actdeliverymethod ?? 1,
      },
      this.systemCaller(),
      { emit: false, system: { regardingobjectid: userRef, ownerid: userRef } },
    );
  }

  // ---- engine hooks ----

  hooks(): EngineHooks {
    return {
      validate: (def, row, before) => {
        if (def === this.attachment) this.validateAttachment(row, before);
        if (def.logicalName === 'lead') {
          const full = [row['firstname'], row['lastname']].filter((p): p is string => typeof p === 'string' && p.length > 0).join(' ');
          row['fullname'] = full.length ? full : null;
        }
      },
      partiesWritten: (def, row, parties, sent) => {
        if (def === this.email) this.computeAddresses(row, parties, sent);
      },
      afterCreate: (def, row) => {
        if (def.logicalName === 'systemuser') this.createMailbox(row);
        if (def === this.attachment) this.recount(row['objectid']);
      },
      afterUpdate: (def, before, after) => {
        if (def.logicalName === 'systemuser' && before['internalemailaddress'] !== after['internalemailaddress']) {
          const mailbox = this.mailboxOf(text(after['systemuserid']));
          if (mailbox) this.patchSystem(this.mailbox, text(mailbox['mailboxid']), { emailaddress: after['internalemailaddress'] ?? null });
        }
      },
      afterRemove: (def, before) => {
        if (def === this.attachment) this.recount(before['objectid']);
        else if (def.activity) this.removeAttachmentsOf(text(before['activityid']));
        else if (def.logicalName === 'systemuser') {
          const mailbox = this.mailboxOf(text(before['systemuserid']));
          if (mailbox) this.d.store.table('mailbox').remove(text(mailbox['mailboxid']), this.d.store.nextVersion());
        }
      },
    };
  }

  /** sender / torecipients: display copies of the From and To addresses, unless the caller wrote them itself. */
  private computeAddresses(row: Row, parties: Row[], sent: string[]): void {
    const address = (p: Row) => (typeof p['addressused'] === 'string' ? p['addressused'] : null);
    const from = parties.find((p) => p['participationtypemask'] === 1);
    if (!sent.includes('sender')) row['sender'] = from ? address(from)?.slice(0, 250) ?? null : null;
    if (!sent.includes('torecipients')) {
      const to = parties.filter((p) => p['participationtypemask'] === 2).map(address).filter((a): a is string => a !== null);
      row['torecipients'] = to.length ? to.join(';').slice(0, 500) : null;
    }
    row['emailsender'] = from && isLookup(from['partyid']) ? from['partyid'] : null;
  }

  private validateAttachment(row: Row, before: Row | undefined): void {
    const object = row['objectid'];
    if (!isLookup(object)) throw badValue('activitymimeattachment needs objectid: objectid_email@odata.bind (or objectid_activitypointer@odata.bind) naming the activity.');
    const type = row['objecttypecode'];
    if (typeof type === 'string' && type !== object.logicalName) throw badValue(`objecttypecode '${type}' does not match the objectid, which is a ${object.logicalName}.`);
    row['objecttypecode'] = object.logicalName;
    row['activityid'] = object;
    const activity = this.d.store.table(object.logicalName).get(object.id);
    row['ownerid'] = activity && isLookup(activity['ownerid']) ? activity['ownerid'] : null;
    const body = row['body'];
    if (typeof body === 'string') {
      const compact = body.replace(/\s+/g, '');
      if (compact.length % 4 !== 0 || !BASE64.test(compact)) throw badValue("activitymimeattachment.body must be Base64-encoded file content.");
      const bytes = Buffer.from(compact, 'base64').length;
      const measured = this.d.options.attachmentSizeMeasure === 'base64' ? compact.length : bytes;
      const limit = this.maxUploadFileSize();
      if (measured > limit) {
        throw new DataverseError(400, ATTACHMENT_TOO_BIG, `Attachment file size is too big. The file is ${measured} bytes; the organization's maxuploadfilesize is ${limit} bytes.`);
      }
      row['filesize'] = bytes;
    } else {
      row['filesize'] = 0;
    }
    if (!before && (row['attachmentnumber'] === null || row['attachmentnumber'] === undefined)) {
      row['attachmentnumber'] = this.attachmentsOf(object.id).length;
    }
  }

  private attachmentsOf(activityId: string): Row[] {
    const table = this.d.store.table('activitymimeattachment');
    return [...(table.idsWhere('objectid', { id: activityId, logicalName: '' }) ?? [])].map((id) => table.get(id)).filter((r): r is Row => r !== undefined);
  }

  /** email.attachmentcount (read-only, kept by the platform; no Update event). */
  private recount(object: Value | undefined): void {
    if (!isLookup(object) || object.logicalName !== 'email' || !this.d.store.table('email').get(object.id)) return;
    this.patchSystem(this.email, object.id, { attachmentcount: this.attachmentsOf(object.id).length });
  }

  /** An activity's attachments go with it (activity_pointer_activity_mime_attachment: Delete Cascade). */
  private removeAttachmentsOf(activityId: string): void {
    const table = this.d.store.table('activitymimeattachment');
    for (const row of this.attachmentsOf(activityId)) table.remove(text(row['activitymimeattachmentid']), this.d.store.nextVersion());
  }

  private patchSystem(def: EntityDef, id: string, values: Row): void {
    const table = this.d.store.table(def.logicalName);
    const row = table.get(id);
    if (!row) return;
    const version = this.d.store.nextVersion();
    table.put({ ...row, ...values, versionnumber: version }, version);
  }

  // ---- SendEmail ----

  /**
   * SendEmail (bound to email; IssueSend Edm.Boolean not nullable, TrackingToken Edm.String nullable) answering
   * SendEmailResponse { Subject }. Refuses an email that is not Open (Draft or Failed), has no sender, a sender that
   * is not a system user (IssueSend true), or no recipient; the error codes are the simulator's (see README).
   */
  sendEmail(emailId: string, body: unknown, caller: Caller): { Subject: string | null } {
    if (!isGuid(emailId)) throw badValue(`The key '${emailId}' of 'emails' must be a GUID.`);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badValue('The SendEmail body must be a JSON object: { "IssueSend": true, "TrackingToken": "" }.');
    const b = body as Record<string, unknown>;
    for (const k of Object.keys(b)) if (k !== 'IssueSend' && k !== 'TrackingToken' && !k.includes('@')) throw badValue(`SendEmail has no parameter '${k}' (IssueSend, TrackingToken).`);
    const issueSend = b['IssueSend'];
    if (typeof issueSend !== 'boolean') throw badValue('SendEmail needs IssueSend (Edm.Boolean, not nullable): true sends the email, false marks it as sent.');
    const given = b['TrackingToken'];
    if (given !== undefined && given !== null && typeof given !== 'string') throw badValue('SendEmail TrackingToken must be a string or null.');
    if (typeof given === 'string' && given.length > 50) throw badValue('SendEmail TrackingToken is longer than trackingtoken allows (50).');
    const id = emailId.toLowerCase();
    const current = this.d.engine.get(this.email, id);
    if (!current) throw notFound('email', id);
    if (current['statecode'] !== 0) {
      const label = this.email.states?.flatMap((s) => s.statuses).find((s) => s.value === current['statuscode'])?.label ?? text(current['statuscode']);
      throw badValue(`The email ${id} cannot be sent: its status is ${label}. Only an open email (Draft or Failed) can be sent.`);
    }
    const parties = this.d.engine.partiesOf(id);
    const from = parties.find((p) => p['participationtypemask'] === 1);
    if (!from) throw badValue(`The email ${id} has no sender: add a From party (participationtypemask 1) before sending it.`);
    const sender = from['partyid'];
    if (issueSend && (!isLookup(sender) || sender.logicalName !== 'systemuser')) throw badValue(`The sender of email ${id} must be a system user (partyid_systemuser) to send it.`);
    if (!parties.some((p) => p['participationtypemask'] === 2 || p['participationtypemask'] === 3 || p['participationtypemask'] === 4)) {
      throw badValue(`The email ${id} has no recipient: add a To, Cc or Bcc party before sending it.`);
    }
    let token: string | null = typeof given === 'string' && given.trim() ? given.trim() : null;
    if (token === null && this.d.options.trackingToken !== 'off') token = `CRM:${String(++this.tokenCounter).padStart(7, '0')}`;
    let subject = typeof current['subject'] === 'string' ? current['subject'] : null;
    if (token && !(subject ?? '').includes(token)) subject = `${(subject ?? '').slice(0, 800 - token.length - 1)} ${token}`.trim();
    const status = issueSend ? 6 : 3;
    const system: Row = { subject, trackingtoken: token };
    if (!issueSend) system['senton'] = formatDateTime(this.d.now());
    if (isLookup(sender) && sender.logicalName === 'systemuser') {
      const mailbox = this.mailboxOf(sender.id);
      if (mailbox) system['sendermailboxid'] = { id: text(mailbox['mailboxid']), logicalName: 'mailbox' };
    }
    const pre = { row: { ...current }, parties };
    const emit = this.d.options.sendEmailSteps !== 'sendemail-only';
    const { row } = this.d.engine.update(this.email, id, { statecode: 1, statuscode: status }, caller, { system, emit, noHooks: true });
    this.d.engine.raise({
      message: 'SendEmail',
      def: this.email,
      id,
      sent: [],
      target: new Map<string, Value | Row[]>([['activityid', id]]),
      pre,
      post: { row: { ...row }, parties: this.d.engine.partiesOf(id) },
      caller,
      operationCreatedOn: this.d.now(),
      extra: { input: { EmailId: id, IssueSend: issueSend, TrackingToken: token ?? '' }, output: { Subject: subject }, withoutTarget: true },
    });
    return { Subject: subject };
  }

  private systemCaller(): Caller {
    const id = this.d.systemUserId();
    return { authenticatedUserId: id, userId: id, tag: undefined, correlationId: this.d.correlationId() };
  }
}
