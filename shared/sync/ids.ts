// Deterministic ids, so a retried create never duplicates: the same change always names the
// same Dataverse record and the same Graph transactionId.
import { createHash } from 'node:crypto';

/** RFC 4122 name-based UUID (version 5, SHA-1) in the product's own namespace. */
export function uuidV5(name: string, namespace = 'f6b4e9a2-3c51-4d8e-a0b7-5e2c9d1f8a63'): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

/** Dataverse id of the appointment for a meeting: every attendee's copy shares the iCalUId, so all name one record. */
export const appointmentIdForMeeting = (iCalUId: string) => uuidV5(`meeting|${iCalUId}`);

/**
 * Dataverse id of the series a single appointment becomes (AddRecurrence creates a new record and deletes the
 * appointment): named by the appointment's id, so a retry names the same series, and never the appointment's own
 * id (both are activities, whose ids are shared by every activity table through activitypointer).
 */
export const seriesIdForAppointment = (appointmentId: string) => uuidV5(`series-of|${appointmentId.toLowerCase()}`);

/** Dataverse id of a record created from an Exchange item that is not a meeting. */
export const recordIdForExchangeItem = (mailboxId: string, exchangeId: string) => uuidV5(`item|${mailboxId.toLowerCase()}|${exchangeId}`);

/** Graph transactionId of the event created for a Dataverse appointment in a mailbox. */
export const transactionIdFor = (mailboxId: string, dataverseId: string) => uuidV5(`create|${mailboxId.toLowerCase()}|${dataverseId.toLowerCase()}`);
