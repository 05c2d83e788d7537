// Whether a Dataverse version is one the sync already synced (shared/sync/versions.ts): the echo check that keeps
// the two PATCHes of one sync write from bouncing back to Exchange.
import { describe, expect, it } from 'vitest';
import { isSyncedVersion, versionOf } from '../../../shared/sync/versions.js';

describe('versionOf', () => {
  it('reads the versionnumber of a W/"<digits>" etag, of any length', () => {
    expect(versionOf('W/"7"')).toBe(7n);
    expect(versionOf('W/"123456789012345678901"')).toBe(123456789012345678901n);
  });

  it('is undefined for any other shape, including a version with something before or after it', () => {
    for (const etag of [undefined, '', 'W/"abc"', '"12"', 'xW/"12"', 'W/"12"x', 'W/"12" ', 'W/""']) expect(versionOf(etag)).toBeUndefined();
  });
});

describe('isSyncedVersion', () => {
  it('a version at or below the recorded one is synced; a later one is not', () => {
    expect(isSyncedVersion('W/"1001"', 'W/"1001"')).toBe(true);
    expect(isSyncedVersion('W/"1000"', 'W/"1001"')).toBe(true);
    expect(isSyncedVersion('W/"1002"', 'W/"1001"')).toBe(false);
  });

  it('compares versions as numbers, not as text', () => {
    expect(isSyncedVersion('W/"9"', 'W/"10"')).toBe(true);
    expect(isSyncedVersion('W/"10"', 'W/"9"')).toBe(false);
    expect(isSyncedVersion('W/"010"', 'W/"10"')).toBe(true);
  });

  it('an etag of another shape matches only itself', () => {
    expect(isSyncedVersion('"opaque"', '"opaque"')).toBe(true);
    expect(isSyncedVersion('"opaque"', '"other"')).toBe(false);
    expect(isSyncedVersion('"opaque"', 'W/"10"')).toBe(false);
    expect(isSyncedVersion('W/"5"', '"opaque"')).toBe(false);
  });

  it('nothing is synced when either side has no etag (not even two missing ones)', () => {
    expect(isSyncedVersion(undefined, undefined)).toBe(false);
    expect(isSyncedVersion('', '')).toBe(false);
    expect(isSyncedVersion('W/"5"', undefined)).toBe(false);
    expect(isSyncedVersion(undefined, 'W/"5"')).toBe(false);
  });
});
