// usersettings: the platform creates one row per system user, keyed by its systemuserid, and removes it with the
// user (https://learn.microsoft.com/power-apps/developer/data-platform/reference/entities/usersettings). The sync reads
// timezonecode, the user's own time zone (a timezonedefinition code: TIME_ZONE_CODES in recurrence.ts).
import type { EngineHooks } from './engine.js';
import { badValue, notFound } from './errors.js';
import { TIME_ZONE_CODES } from './recurrence.js';
import { text, type Row, type Store } from './store.js';

export class UserSettingsPlatform {
  constructor(
    private readonly store: Store,
    /** The organization's default time zone code, which a new user starts with (85: GMT Standard Time). */
    private readonly defaultTimeZoneCode = 85,
  ) {}

  /** A user's settings row. */
  of(userId: string): Row | undefined {
    return this.store.table('usersettings').get(userId.toLowerCase());
  }

  /** Sets a user's time zone quietly, as the user does in Personal Options (no webhooks). */
  setTimeZone(userId: string, code: number): Row {
    const row = this.of(userId);
    if (!row) throw notFound('usersettings', userId.toLowerCase());
    if (!(code in TIME_ZONE_CODES)) throw badValue(`timezonecode ${code} is not a time zone code this simulator knows (known: ${Object.keys(TIME_ZONE_CODES).join(', ')}).`);
    const version = this.store.nextVersion();
    const next = { ...row, timezonecode: code, versionnumber: version };
    this.store.table('usersettings').put(next, version);
    return next;
  }

  hooks(): EngineHooks {
    return {
      afterCreate: (def, row) => {
        if (def.logicalName !== 'systemuser') return;
        const version = this.store.nextVersion();
        this.store.table('usersettings').put({ systemuserid: text(row['systemuserid']), timezonecode: this.defaultTimeZoneCode, versionnumber: version }, version);
      },
      afterRemove: (def, before) => {
        if (def.logicalName === 'systemuser') this.store.table('usersettings').remove(text(before['systemuserid']), this.store.nextVersion());
      },
    };
  }
}
