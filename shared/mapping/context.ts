// The context every mapping function gets: the clock and the mailbox it syncs for. Nothing in shared/mapping reads
// the system clock or any configuration, so the rules are pure and replayable.
import { isValidZone } from '../timeZones.js';
import { invalidInput } from '../errors.js';

/** What a mapping needs besides the item: the clock, the syncing mailbox, and the mailbox's IANA time zone. */
export type MappingContext = {
  now: Date;
  mailbox: { address: string; systemUserId: string };
  /** The mailbox's IANA time zone, e.g. "Europe/Berlin". */
  timeZone: string;
};

/** Checks the context once per call, so a bad zone or clock fails with a named error instead of NaN dates. */
export function checkContext(ctx: MappingContext): void {
  if (!(ctx.now instanceof Date) || Number.isNaN(ctx.now.getTime())) throw invalidInput('ctx.now', String(ctx.now), 'is not a valid date');
  if (!isValidZone(ctx.timeZone)) throw invalidInput('ctx.timeZone', ctx.timeZone, 'is not an IANA time zone');
  if (typeof ctx.mailbox?.address !== 'string' || ctx.mailbox.address.trim() === '') {
    throw invalidInput('ctx.mailbox.address', ctx.mailbox?.address, 'is required');
  }
}

/** Case-insensitive e-mail comparison key (SMTP local parts are case-insensitive in Exchange). */
export function addressKey(address: string): string {
  return address.trim().toLowerCase();
}
