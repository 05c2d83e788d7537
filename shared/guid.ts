// GUIDs as Dataverse and Entra ID use them: 8-4-4-4-12 hexadecimal digits, in either case. Dataverse gives records
// created without an id a sequential GUID (e.g. 5c5a5b54-2a7a-ee11-8179-000d3a1c4a2b) whose version nibble is not
// 1-8, so an RFC 9562 uuid check rejects real record ids; every id that crosses a boundary is checked with this
// instead. Ids are compared in lower case (Dataverse answers lower case; Entra and webhooks may not).
// https://learn.microsoft.com/sql/t-sql/functions/newsequentialid-transact-sql
import { z } from 'zod';

export const guidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && guidPattern.test(value);
}

/** A GUID of any version, normalised to lower case. */
export const guidSchema = (message = 'must be a GUID') => z.string().regex(guidPattern, { message }).toLowerCase();
