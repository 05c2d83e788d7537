// Whether a Dataverse version of a record is one the sync has already synced. A Dataverse etag is W/"<versionnumber>",
// and versionnumber is the record's rowversion, which only grows
// (https://learn.microsoft.com/power-apps/developer/data-platform/webapi/perform-conditional-operations-using-web-api#etags,
// https://learn.microsoft.com/power-apps/developer/data-platform/use-change-tracking-synchronize-data-external-systems).
// So a version at or below the one a pair recorded is the sync's own write or an older state that the recorded one
// already includes: one sync write of two PATCHes (fields, then state) raises two webhooks, and without the `tag`
// (not documented for webhooks) the first carries a version below the recorded one. Writing it to Exchange would
// put back an older state, then the second would write again: a bounce.

/** The versionnumber of a Dataverse etag, or undefined when it is not of the W/"<digits>" shape. */
export function versionOf(etag: string | undefined): bigint | undefined {
  const digits = /^W\/"(\d+)"$/.exec(etag ?? '')?.[1];
  return digits === undefined ? undefined : BigInt(digits);
}

/** True when `etag` is the recorded version or older; an etag of another shape only matches itself. */
export function isSyncedVersion(etag: string | undefined, recorded: string | undefined): boolean {
  if (!etag || !recorded) return false;
  if (etag === recorded) return true;
  const seen = versionOf(etag);
  const known = versionOf(recorded);
  return seen !== undefined && known !== undefined && seen <= known;
}
