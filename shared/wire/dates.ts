// Date formats the two APIs use on the wire. Dataverse returns UTC date-times ("2016-04-11T15:00:00Z") and, for
// DateOnly columns such as contact.birthdate, plain dates ("1980-05-17"). Graph's dateTimeTimeZone carries a local
// date-time without offset ("2017-04-15T11:00:00.0000000") plus a zone name (GDC resources/datetimetimezone.md).
import { DateTime } from 'luxon';
import { z } from 'zod';

const isoWithOffset = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?(Z|[+-]\d{2}:\d{2})$/;
const localDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,7})?)?$/;
const dateOnly = /^\d{4}-\d{2}-\d{2}$/;

/** True when `text` is an ISO 8601 date-time with a UTC offset that names a real instant. */
export function isIsoInstant(text: string): boolean {
  return isoWithOffset.test(text) && DateTime.fromISO(text, { setZone: true }).isValid;
}

/** True when `text` is a local ISO date-time without offset that names a real calendar time. */
export function isLocalDateTime(text: string): boolean {
  return localDateTime.test(text) && DateTime.fromISO(text, { zone: 'UTC' }).isValid;
}

/** True when `text` is a real calendar date `YYYY-MM-DD`. */
export function isDateOnly(text: string): boolean {
  return dateOnly.test(text) && DateTime.fromISO(text, { zone: 'UTC' }).isValid;
}

/** A Dataverse date-time column value (UTC, ISO 8601 with offset). */
export const dataverseDateTime = z.string().refine(isIsoInstant, 'expected an ISO 8601 date-time with offset');

/** A Dataverse DateOnly column value, or a date-time for tolerance of older API versions. */
export const dataverseDate = z
  .string()
  .refine((s) => isDateOnly(s) || isIsoInstant(s), 'expected a date YYYY-MM-DD');

/** Graph dateTimeTimeZone; the zone may be a Windows or an IANA name (resolved by the mapping). */
export const graphDateTimeTimeZone = z.looseObject({
  dateTime: z.string().refine(isLocalDateTime, 'expected a local ISO 8601 date-time without offset'),
  timeZone: z.string().min(1),
});
export type GraphDateTimeTimeZone = z.output<typeof graphDateTimeTimeZone>;
