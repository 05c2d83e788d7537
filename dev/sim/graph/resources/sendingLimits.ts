// Exchange Online's sending limits per mailbox, on the simulator clock
// (https://learn.microsoft.com/office365/servicedescriptions/exchange-online-service-description/exchange-online-limits#sending-limits):
// a message rate (30 a minute) and a recipient rate (10,000 in 24 hours). The message rate decides when a message
// is submitted: at once, or (options.ts MailBehaviour.sendRateExceeded 'defer') at the first moment the sliding
// minute has room, after every message already waiting.
import { GraphError } from '../graphError.js';
import type { MailBehaviour } from '../options.js';

const MINUTE = 60_000;
const DAY = 24 * 3600_000;

/** Submission slots and recipient counts per mailbox. */
export class SendingLimits {
  /** Submission times (past and scheduled), ascending, per mailbox. */
  private readonly submissions = new Map<string, number[]>();
  private readonly recipients = new Map<string, { at: number; n: number }[]>();

  constructor(private readonly behaviour: () => MailBehaviour) {}

  reset(): void {
    this.submissions.clear();
    this.recipients.clear();
  }

  /**
   * Reserves the submission time of one message with `recipientCount` recipients: `now` when the minute has room,
   * later when deferring; throws the documented-as-possible refusals otherwise. Nothing is reserved on a throw.
   */
  reserve(mailboxId: string, recipientCount: number, now: number): number {
    const b = this.behaviour();
    if (recipientCount > b.recipientsPerMessage) {
      throw new GraphError(400, 'ErrorInvalidRecipients', `The message has ${recipientCount} recipients; Exchange Online accepts at most ${b.recipientsPerMessage} recipients per message.`);
    }
    const sent = (this.recipients.get(mailboxId) ?? []).filter((r) => r.at > now - DAY);
    const total = sent.reduce((sum, r) => sum + r.n, 0);
    if (total + recipientCount > b.recipientsPerDay) {
      throw new GraphError(403, 'ErrorMessageSubmissionBlocked', `The mailbox has reached its limit of ${b.recipientsPerDay} recipients in 24 hours; messages can be sent again when the oldest of them is 24 hours old.`);
    }
    const window = b.rateWindowMs ?? MINUTE;
    const times = (this.submissions.get(mailboxId) ?? []).filter((t) => t > now - window);
    const n = b.messagesPerMinute;
    const slot = times.length >= n ? Math.max(now, (times[times.length - n] as number) + window) : Math.max(now, times[times.length - 1] ?? now);
    if (slot > now && b.sendRateExceeded === 'reject') {
      throw new GraphError(429, 'ErrorSubmissionQuotaExceeded', "The message couldn't be sent because the sender's submission quota was exceeded. Please try again later.", {
        'Retry-After': String(Math.max(1, Math.ceil((slot - now) / 1000))),
      });
    }
    times.push(slot);
    this.submissions.set(mailboxId, times);
    sent.push({ at: now, n: recipientCount });
    this.recipients.set(mailboxId, sent);
    return slot;
  }
}
