// The record of meeting messages Exchange would have sent: requests, updates, cancellations and responses.
// Tests read it to prove the sync's "no invitation is sent when ..." rules (docs/reference/platform-facts.md sections 7 and 8;
// GDC api-reference/v1.0/api/event-update.md "attendees property and meeting updates").

/** One meeting message sent by Exchange on behalf of a mailbox. */
export interface InvitationRecord {
  sequence: number;
  /** ISO time (simulated clock) the message was sent. */
  at: string;
  type: 'request' | 'update' | 'cancellation' | 'response';
  /** What caused it. */
  trigger: 'create' | 'update' | 'delete' | 'cancel' | 'respond';
  /** Mailbox that sent it (the organizer, or the attendee for a response). */
  fromUserId: string;
  fromAddress: string;
  organizerAddress: string;
  /** The sender's copy of the event. */
  eventId: string;
  iCalUId: string;
  subject: string;
  /** Lower-cased addresses that received it. */
  recipients: string[];
  /** For updates: the properties whose change caused it. */
  changedFields: string[];
  /** For responses: accepted, tentativelyAccepted or declined. */
  response?: string;
  /** appId when the change came through the API, null for a person in Outlook. */
  byAppId: string | null;
  /** For a message about one occurrence of a series: the sender's master id and the occurrence's original start. */
  seriesMasterId?: string;
  originalStart?: string;
}

/** Append-only log of meeting messages. */
export class InvitationLog {
  private readonly records: InvitationRecord[] = [];

  add(record: Omit<InvitationRecord, 'sequence'>): void {
    this.records.push({ sequence: this.records.length + 1, ...record });
  }

  list(filter: { userId?: string; iCalUId?: string; eventId?: string } = {}): InvitationRecord[] {
    return this.records.filter(
      (r) =>
        (filter.userId === undefined || r.fromUserId === filter.userId) &&
        (filter.iCalUId === undefined || r.iCalUId === filter.iCalUId) &&
        (filter.eventId === undefined || r.eventId === filter.eventId),
    );
  }

  clear(): void {
    this.records.length = 0;
  }
}
