// Recurring appointment series as the Dataverse platform runs them, on top of the generic engine (engine hooks):
// - a recurringappointmentmaster is validated and its instances are created as `appointment` rows (seriesid,
//   instancetypecode 2, originalstartdate) synchronously up to Organization.RecurrenceExpansionSynchCreateMax and
//   the rest by an asynchronous job, only between the past and future expansion windows
//   (https://learn.microsoft.com/power-apps/developer/data-platform/recurring-appointment-partial-expansion-model);
// - updating an instance makes it an exception (instancetypecode 3), deleting one records it in the master's
//   deletedexceptionslist, deleting the master deletes its instances
//   (https://learn.microsoft.com/power-apps/developer/data-platform/create-recurring-appointment-series-instance-exception,
//   https://learn.microsoft.com/dynamics365/customerengagement/on-premises/developer/delete-or-end-a-recurring-appointment-series-or-instance);
// - updating the master's basic information updates the instances except their excepted columns, updating its
//   recurrence information splits the series: a new master with the same groupid keeps the history up to the last
//   past instance and the future instances are deleted and re-expanded
//   (https://learn.microsoft.com/power-apps/developer/data-platform/update-recurring-appointment);
// - the AddRecurrence and DeleteOpenInstances actions.
// The occurrence arithmetic is in recurrence.ts.
import { DateTime } from 'luxon';
import type { Caller, Engine, EngineHooks, WriteOptions } from './engine.js';
import { badValue, notFound } from './errors.js';
import type { IdSource } from './prng.js';
import { TIME_ZONE_CODES, WEEKDAY_MASK, dayNumber, daysInMonth, firstOccurrence, lastOccurrence, localDateOf, localTimeOf, midnightOf, occurrences, type Occurrence, type Pattern } from './recurrence.js';
import { entityByLogicalName, entityDef, stateOption, type EntityDef } from './schema.js';
import { isLookup, text, type LookupRef, type Row, type Store, type Value } from './store.js';
import { formatDateTime, isGuid, toStoredValue } from './values.js';

export interface RecurrenceOptions {
  /** Organization.PastExpansionWindow in months (1-120); default 3, a simulator choice (the default is not documented). */
  pastExpansionWindow?: number;
  /** Organization.FutureExpansionWindow in months (1-140); default 12 (simulator choice). */
  futureExpansionWindow?: number;
  /** Organization.RecurrenceExpansionSynchCreateMax (1-1000); default 15 (simulator choice). */
  recurrenceExpansionSynchCreateMax?: number;
  /** Organization.RecurrenceExpansionJobBatchSize: instances one run of the expansion job creates; default 100. */
  recurrenceExpansionJobBatchSize?: number;
  /** Organization.RecurrenceExpansionJobBatchInterval in seconds; default 5. */
  recurrenceExpansionJobBatchInterval?: number;
  /**
   * Zone a series is expanded in when its utcconversiontimezonecode is absent or -1. 'creator' (default): the time
   * zone (usersettings.timezonecode) of the user who created it, the one "in use when the record was created" as the
   * column's description reads (recurringappointmentmaster reference, UTCConversionTimeZoneCode), which the
   * scheduling API's RecurrenceTimeZoneCode only overrides ("override the time zone that is specified by the
   * UserTimeZoneCode property", AppointmentRequest.RecurrenceTimeZoneCode); 'owner': its owning user's; or an IANA
   * zone name for every such series (the simulator's old behaviour was 'UTC'). Read when the series is expanded.
   */
  zoneWithoutCode?: 'creator' | 'owner' | (string & {});
  /**
   * Whether instances the platform creates, updates or deletes for a series (expansion, the expansion job, master
   * updates carried to instances, a split, DeleteOpenInstances, deleting the master) raise Create/Update/Delete steps
   * on appointment: 'fire' (default; each instance runs the pipeline like any appointment) or 'silent'.
   */
  instanceSteps?: 'fire' | 'silent';
  /**
   * Which record keeps the new pattern when a recurrence edit splits a series: 'live' (default: the updated
   * activityid carries the new pattern and the new master holds the history, as "the history of the past instances is
   * preserved ... by storing it in a new series" reads) or 'history' (the updated activityid is ended with the past
   * instances and the new master carries the new pattern).
   */
  splitKeeps?: 'live' | 'history';
  /** Day 29-31 in a shorter month: 'last' (default, Outlook's rule: the month's last day) or 'skip' (no occurrence that month); Dataverse's rule is not documented. */
  shortMonth?: 'last' | 'skip';
  /** 'clock' (default): the expansion job runs on admin.runRecurrenceExpansion() and admin.advanceClock(); 'timer': also every batch interval. */
  expansionJob?: 'clock' | 'timer';
}

export interface SeriesDeps {
  store: Store;
  engine: Engine;
  ids: IdSource;
  now: () => number;
  systemUserId: () => string;
  options: RecurrenceOptions;
}

/** Organization settings the expansion reads. */
export interface ExpansionSettings {
  pastexpansionwindow: number;
  futureexpansionwindow: number;
  recurrenceexpansionsynchcreatemax: number;
  recurrenceexpansionjobbatchsize: number;
  recurrenceexpansionjobbatchinterval: number;
}

const PATTERN_COLUMNS = new Set([
  'recurrencepatterntype',
  'interval',
  'daysofweekmask',
  'dayofmonth',
  'monthofyear',
  'instance',
  'firstdayofweek',
  'isnthmonthly',
  'isnthyearly',
  'isweekdaypattern',
  'patternstartdate',
  'patternenddate',
  'patternendtype',
  'occurrences',
  'starttime',
  'endtime',
  'duration',
  'isalldayevent',
  'utcconversiontimezonecode',
]);

/** Basic information carried from the master to its instances ("subject, location, or attendees"). */
const BASIC_COLUMNS = ['subject', 'description', 'location', 'prioritycode', 'category', 'subcategory', 'ismapiprivate', 'regardingobjectid'];
const PARTY_COLUMNS = ['requiredattendees', 'optionalattendees', 'organizer'];

/** Columns of a master copied into the new master of a split (everything but identity, audit and state). */
const NOT_COPIED = new Set(['activityid', 'createdon', 'modifiedon', 'createdby', 'modifiedby', 'createdonbehalfby', 'modifiedonbehalfby', 'versionnumber', 'owningbusinessunit', 'activitytypecode', 'statecode', 'statuscode']);

function ms(v: Value | undefined): number | undefined {
  return typeof v === 'string' ? Date.parse(v) : undefined;
}

function num(v: Value | undefined): number | undefined {
  return typeof v === 'number' ? v : undefined;
}

/** The recurring-appointment platform of one simulator. */
export class SeriesPlatform {
  private readonly master: EntityDef = entityDef('recurringappointmentmaster');
  private readonly appointment: EntityDef = entityDef('appointment');
  /** Columns each exception instance changed (so master updates do not overwrite them). */
  private readonly excepted = new Map<string, Set<string>>();
  /** A split series' live part expands only from this instant on (its history is in the other master). */
  private readonly floor = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  /** Set while AddRecurrence creates its master: no Create event for it, but its instances follow instanceSteps. */
  private quietMasterCreate = false;

  constructor(private readonly d: SeriesDeps) {}

  // ---- organization settings ----

  /** The organization row with the expansion settings, as seeded at reset. */
  seedOrganization(organizationId: string, name: string): void {
    const o = this.d.options;
    const row: Row = {
      organizationid: organizationId,
      name,
      pastexpansionwindow: o.pastExpansionWindow ?? 3,
      futureexpansionwindow: o.futureExpansionWindow ?? 12,
      recurrenceexpansionsynchcreatemax: o.recurrenceExpansionSynchCreateMax ?? 15,
      recurrenceexpansionjobbatchsize: o.recurrenceExpansionJobBatchSize ?? 100,
      recurrenceexpansionjobbatchinterval: o.recurrenceExpansionJobBatchInterval ?? 5,
      versionnumber: this.d.store.nextVersion(),
    };
    this.d.store.table('organization').put(row, this.d.store.currentVersion());
    this.excepted.clear();
    this.floor.clear();
    this.restartTimer();
  }

  settings(): ExpansionSettings {
    const row = [...this.d.store.table('organization').rows.values()][0] ?? {};
    const n = (k: keyof ExpansionSettings, dflt: number) => num(row[k]) ?? dflt;
    return {
      pastexpansionwindow: n('pastexpansionwindow', 3),
      futureexpansionwindow: n('futureexpansionwindow', 12),
      recurrenceexpansionsynchcreatemax: n('recurrenceexpansionsynchcreatemax', 15),
      recurrenceexpansionjobbatchsize: n('recurrenceexpansionjobbatchsize', 100),
      recurrenceexpansionjobbatchinterval: n('recurrenceexpansionjobbatchinterval', 5),
    };
  }

  /** Changes organization settings (validated against the organization columns' ranges). */
  setSettings(partial: Partial<ExpansionSettings>): ExpansionSettings {
    const table = this.d.store.table('organization');
    const row = [...table.rows.values()][0];
    if (!row) throw new Error('no organization row');
    const def = entityDef('organization');
    const next: Row = { ...row };
    for (const [k, v] of Object.entries(partial)) {
      const column = def.columns.get(k);
      if (!column || !(k in this.settings())) throw badValue(`'${k}' is not an expansion setting of organization.`);
      next[k] = toStoredValue(def, column, v);
    }
    next['versionnumber'] = this.d.store.nextVersion();
    table.put(next, this.d.store.currentVersion());
    this.restartTimer();
    return this.settings();
  }

  private restartTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.d.options.expansionJob !== 'timer') return;
    this.timer = setInterval(() => this.runExpansionJob(), this.settings().recurrenceexpansionjobbatchinterval * 1000);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The past and future cutoffs of the expansion windows at the simulator's now. */
  windows(): { from: number; to: number } {
    const s = this.settings();
    const now = DateTime.fromMillis(this.d.now(), { zone: 'utc' });
    return { from: now.minus({ months: s.pastexpansionwindow }).toMillis(), to: now.plus({ months: s.futureexpansionwindow }).toMillis() };
  }

  // ---- the pattern of a master row ----

  /** The IANA zone a master is expanded in. */
  zoneOf(row: Row): string {
    const code = num(row['utcconversiontimezonecode']);
    if (code === undefined || code === -1) return this.zoneWithoutCode(row);
    const zone = TIME_ZONE_CODES[code];
    if (!zone) {
      throw badValue(`utcconversiontimezonecode ${code} is not a time zone code this simulator knows (known: ${Object.keys(TIME_ZONE_CODES).join(', ')}).`);
    }
    return zone;
  }

  /** The zone of a series without a zone code: its creator's or owner's own time zone, or the configured zone. */
  private zoneWithoutCode(row: Row): string {
    const choice = this.d.options.zoneWithoutCode ?? 'creator';
    if (choice !== 'creator' && choice !== 'owner') return choice;
    const user = row[choice === 'creator' ? 'createdby' : 'ownerid'];
    const settings = isLookup(user) && user.logicalName === 'systemuser' ? this.d.store.table('usersettings').get(user.id.toLowerCase()) : undefined;
    const code = num(settings?.['timezonecode']);
    // A user without settings (or with a code the simulator does not know) expands in UTC, as before this option.
    return (code !== undefined ? TIME_ZONE_CODES[code] : undefined) ?? 'UTC';
  }

  /** Validates a master row's recurrence columns and returns its pattern (400 naming the column otherwise). */
  patternOf(row: Row): Pattern {
    const zone = this.zoneOf(row);
    const type = num(row['recurrencepatterntype']);
    if (type === undefined) throw badValue('recurrencepatterntype is required for a recurring appointment (0 Daily, 1 Weekly, 2 Monthly, 3 Yearly).');
    const start = ms(row['starttime']);
    if (start === undefined) throw badValue('starttime (the pattern start time) is required for a recurring appointment.');
    const end = ms(row['endtime']);
    let duration = num(row['duration']);
    if (duration === undefined) {
      if (end === undefined) throw badValue('Give endtime or duration for a recurring appointment.');
      duration = Math.round((end - start) / 60000);
    }
    if (duration < 0) throw badValue(`The endtime (${text(row['endtime'])}) of the recurring appointment is before its starttime (${text(row['starttime'])}).`);
    const patternStart = ms(row['patternstartdate']);
    if (patternStart === undefined) throw badValue('patternstartdate (the recurrence range start) is required for a recurring appointment.');
    const endType = num(row['patternendtype']);
    if (endType === undefined) throw badValue('patternendtype is required (1 No End Date, 2 Occurrences, 3 Pattern End Date).');
    const startDate = localDateOf(patternStart, zone);
    const patternEnd = ms(row['patternenddate']);
    const endDate = patternEnd !== undefined ? localDateOf(patternEnd, zone) : null;
    if (endType === 2 && num(row['occurrences']) === undefined) throw badValue('occurrences is required when patternendtype is 2 (Occurrences).');
    if (endType === 3) {
      if (!endDate) throw badValue('patternenddate is required when patternendtype is 3 (Pattern End Date).');
      if (dayNumber(endDate) < dayNumber(startDate)) throw badValue(`patternenddate (${text(row['patternenddate'])}) is before patternstartdate (${text(row['patternstartdate'])}).`);
    }
    const interval = num(row['interval']) ?? 1;
    let mask = num(row['daysofweekmask']) ?? 0;
    const dayOfMonth = num(row['dayofmonth']) ?? null;
    const monthOfYear = num(row['monthofyear']) ?? null;
    const instance = num(row['instance']) ?? null;
    const nthMonthly = row['isnthmonthly'] === true;
    const nthYearly = row['isnthyearly'] === true;
    if (type === 1) {
      // "the weekly recurrence pattern is a daily weekday pattern" (isweekdaypattern): Monday to Friday.
      if (row['isweekdaypattern'] === true) mask = WEEKDAY_MASK;
      if (!mask) throw badValue('daysofweekmask is required for a weekly pattern (Sunday 1, Monday 2, Tuesday 4, Wednesday 8, Thursday 16, Friday 32, Saturday 64).');
    } else if (row['isweekdaypattern'] === true) {
      throw badValue('isweekdaypattern is valid for a weekly pattern (recurrencepatterntype 1) only.');
    }
    if (nthMonthly && type !== 2) throw badValue('isnthmonthly is valid for a monthly pattern (recurrencepatterntype 2) only.');
    if (nthYearly && type !== 3) throw badValue('isnthyearly is valid for a yearly pattern (recurrencepatterntype 3) only.');
    const nth = (type === 2 && nthMonthly) || (type === 3 && nthYearly);
    if (nth) {
      if (instance === null) throw badValue(`instance (1 First .. 4 Fourth, 5 Last) is required for an Nth ${type === 2 ? 'monthly' : 'yearly'} pattern.`);
      if (!mask) throw badValue(`daysofweekmask is required for an Nth ${type === 2 ? 'monthly' : 'yearly'} pattern.`);
    } else if (type === 2 || type === 3) {
      if (dayOfMonth === null) throw badValue(`dayofmonth is required for a ${type === 2 ? 'monthly' : 'yearly'} pattern on a day of the month.`);
    }
    if (type === 3) {
      if (!monthOfYear) throw badValue('monthofyear (1 January .. 12 December) is required for a yearly pattern.');
      if (!nth && dayOfMonth !== null && dayOfMonth > daysInMonth(2024, monthOfYear)) throw badValue(`dayofmonth ${dayOfMonth} does not exist in month ${monthOfYear}.`);
    }
    const allDay = row['isalldayevent'] === true;
    return {
      type: type as Pattern['type'],
      interval,
      daysOfWeekMask: mask,
      dayOfMonth,
      monthOfYear,
      instance,
      firstDayOfWeek: num(row['firstdayofweek']) ?? 0,
      nth,
      startDate,
      endType: endType as Pattern['endType'],
      occurrences: num(row['occurrences']) ?? null,
      endDate,
      startTime: allDay ? { hour: 0, minute: 0, second: 0 } : localTimeOf(start, zone),
      durationMinutes: allDay ? Math.max(1440, Math.ceil(duration / 1440) * 1440) : duration,
      zone,
      shortMonth: this.d.options.shortMonth ?? 'last',
    };
  }

  // ---- engine hooks ----

  hooks(): EngineHooks {
    return {
      validate: (def, row, before) => this.validate(def, row, before),
      afterCreate: (def, row, caller, options) => {
        if (def !== this.master) return;
        const instanceOptions = this.quietMasterCreate ? { ...options, emit: true } : options;
        this.expand(text(row['activityid']), caller, instanceOptions, this.settings().recurrenceexpansionsynchcreatemax);
      },
      afterUpdate: (def, before, after, sent, caller, options) => this.afterUpdate(def, before, after, sent, caller, options),
      afterRemove: (def, before, caller, options) => this.afterRemove(def, before, caller, options),
    };
  }

  private validate(def: EntityDef, row: Row, before: Row | undefined): void {
    if (def === this.master) {
      // A new endtime with the old duration means a new duration (duration is what the expansion reads).
      if (before && row['endtime'] !== before['endtime'] && row['duration'] === before['duration']) row['duration'] = null;
      const pattern = this.patternOf(row);
      this.computeMaster(row, pattern, before);
      return;
    }
    if (def === this.appointment && before && before['instancetypecode'] === 2) {
      // "When you update a recurring appointment instance, the instance is marked as an exception" (update-recurring-appointment.md).
      row['instancetypecode'] = 3;
    }
  }

  /** The columns the platform computes on a master: group, times, effective dates and a fresh expansion state. */
  private computeMaster(row: Row, pattern: Pattern, before: Row | undefined): void {
    const id = text(row['activityid']);
    if (!before) {
      row['groupid'] = { id, logicalName: 'recurringappointmentmaster' };
      row['instancetypecode'] = 1;
      row['isregularactivity'] = false;
    }
    const patternChanged = !before || [...PATTERN_COLUMNS].some((c) => JSON.stringify(before[c] ?? null) !== JSON.stringify(row[c] ?? null));
    if (!patternChanged) return;
    const floor = this.floor.get(id);
    let first: Occurrence | undefined;
    for (const o of occurrences(pattern)) {
      if (floor === undefined || o.startMs >= floor) {
        first = o;
        break;
      }
    }
    const last = lastOccurrence(pattern);
    row['duration'] = pattern.durationMinutes;
    if (typeof row['starttime'] === 'string') row['endtime'] = formatDateTime(Date.parse(row['starttime']) + pattern.durationMinutes * 60000);
    row['effectivestartdate'] = first ? formatDateTime(midnightOf(first.date, pattern.zone)) : null;
    row['effectiveenddate'] = last ? formatDateTime(last.endMs) : null;
    row['scheduledstart'] = first ? formatDateTime(first.startMs) : null;
    row['scheduledend'] = first ? formatDateTime(first.endMs) : null;
    row['scheduleddurationminutes'] = pattern.durationMinutes;
    row['expansionstatecode'] = 0;
    row['lastexpandedinstancedate'] = null;
    row['nextexpansioninstancedate'] = first ? formatDateTime(first.startMs) : null;
  }

  private stepsFor(options: WriteOptions): boolean {
    return options.emit !== false && (this.d.options.instanceSteps ?? 'fire') === 'fire';
  }

  /** Writes platform-maintained columns of a row without raising events (a new row version, no audit change). */
  private patchSystem(def: EntityDef, id: string, values: Row): Row {
    const table = this.d.store.table(def.logicalName);
    const current = table.get(id);
    if (!current) throw notFound(def.logicalName, id);
    const version = this.d.store.nextVersion();
    const row: Row = { ...current, ...values, versionnumber: version };
    table.put(row, version);
    return row;
  }

  private instancesOf(masterId: string): Row[] {
    const table = this.d.store.table('appointment');
    const out: Row[] = [];
    for (const id of table.idsWhere('seriesid', masterId) ?? []) {
      const row = table.get(id);
      if (row) out.push(row);
    }
    return out.sort((a, b) => (ms(a['originalstartdate']) ?? 0) - (ms(b['originalstartdate']) ?? 0));
  }

  /**
   * Creates up to `max` instances of a master after its last expanded one, inside the expansion windows, and updates
   * its expansion state. Returns how many were created.
   */
  private expand(masterId: string, caller: Caller, options: WriteOptions, max: number): number {
    const row = this.d.engine.get(this.master, masterId);
    if (!row || row['expansionstatecode'] === 2) return 0;
    const pattern = this.patternOf(row);
    const { from, to } = this.windows();
    const after = Math.max(ms(row['lastexpandedinstancedate']) ?? -Infinity, -Infinity);
    const floor = this.floor.get(masterId) ?? -Infinity;
    let created = 0;
    let last = ms(row['lastexpandedinstancedate']);
    let next: Occurrence | undefined;
    let exhausted = true;
    for (const o of occurrences(pattern)) {
      if (o.startMs <= after || o.startMs < floor || o.startMs < from) continue;
      if (o.startMs >= to || created >= max) {
        next = o;
        exhausted = false;
        break;
      }
      this.createInstance(row, o, caller, options);
      created++;
      last = o.startMs;
    }
    // Full once every occurrence of a bounded series exists (or was passed); partial while more can come.
    const state = exhausted ? 2 : created > 0 || last !== undefined ? 1 : 0;
    this.patchSystem(this.master, masterId, {
      expansionstatecode: state,
      lastexpandedinstancedate: last !== undefined ? formatDateTime(last) : null,
      nextexpansioninstancedate: next ? formatDateTime(next.startMs) : null,
    });
    return created;
  }

  private partyBody(parties: Row[]): Array<Record<string, unknown>> {
    return parties
      .filter((p) => p['participationtypemask'] === 5 || p['participationtypemask'] === 6 || p['participationtypemask'] === 7)
      .map((p) => {
        const party = p['partyid'];
        if (isLookup(party)) {
          const set = entityByLogicalName.get(party.logicalName)?.setName ?? `${party.logicalName}s`;
          return { participationtypemask: p['participationtypemask'], [`partyid_${party.logicalName}@odata.bind`]: `/${set}(${party.id})` };
        }
        return { participationtypemask: p['participationtypemask'], addressused: p['addressused'] };
      });
  }

  private createInstance(master: Row, o: Occurrence, caller: Caller, options: WriteOptions): void {
    const masterId = text(master['activityid']);
    const system: Row = {
      seriesid: masterId,
      instancetypecode: 2,
      originalstartdate: formatDateTime(o.startMs),
      scheduledstart: formatDateTime(o.startMs),
      scheduledend: formatDateTime(o.endMs),
      isalldayevent: master['isalldayevent'] ?? false,
    };
    for (const c of [...BASIC_COLUMNS, 'ownerid']) if (master[c] !== undefined) system[c] = master[c] ?? null;
    const body = {
      statecode: master['statecode'],
      statuscode: master['statuscode'],
      appointment_activity_parties: this.partyBody(this.d.engine.partiesOf(masterId)),
    };
    this.d.engine.create(this.appointment, body, caller, { emit: this.stepsFor(options), system, noHooks: true });
  }

  private afterUpdate(def: EntityDef, before: Row, after: Row, sent: string[], caller: Caller, options: WriteOptions): void {
    if (def === this.appointment && (before['instancetypecode'] === 2 || before['instancetypecode'] === 3)) {
      const id = text(after['activityid']);
      const set = this.excepted.get(id) ?? new Set<string>();
      for (const c of sent) set.add(PARTY_COLUMNS.includes(c) ? 'parties' : c);
      this.excepted.set(id, set);
      return;
    }
    if (def !== this.master) return;
    const id = text(after['activityid']);
    const patternChanged = [...PATTERN_COLUMNS].some((c) => JSON.stringify(before[c] ?? null) !== JSON.stringify(after[c] ?? null));
    if (patternChanged) {
      this.split(before, after, caller, options);
      return;
    }
    const basic = sent.filter((c) => BASIC_COLUMNS.includes(c));
    const parties = sent.some((c) => PARTY_COLUMNS.includes(c));
    if (basic.length || parties) this.carryToInstances(id, after, basic, parties, caller, options);
  }

  /** "all instances in the recurring appointment series are updated except those that have exceptions on the same column". */
  private carryToInstances(masterId: string, master: Row, basic: string[], parties: boolean, caller: Caller, options: WriteOptions): void {
    const partyBody = parties ? this.partyBody(this.d.engine.partiesOf(masterId)) : undefined;
    for (const instance of this.instancesOf(masterId)) {
      const state = instance['statecode'];
      if (state === 1 || state === 2) continue; // completed and canceled activities are read-only
      const id = text(instance['activityid']);
      const excepted = this.excepted.get(id);
      const system: Row = {};
      for (const c of basic) if (!excepted?.has(c)) system[c] = master[c] ?? null;
      const body: Record<string, unknown> = {};
      if (partyBody && !excepted?.has('parties')) body['appointment_activity_parties'] = partyBody;
      if (!Object.keys(system).length && !body['appointment_activity_parties']) continue;
      this.d.engine.update(this.appointment, id, body, caller, { emit: this.stepsFor(options), system, noHooks: true });
    }
  }

  /** A recurrence edit: history up to the last past instance in one master, the new pattern's future in the other. */
  private split(before: Row, after: Row, caller: Caller, options: WriteOptions): void {
    const id = text(after['activityid']);
    const now = this.d.now();
    const instances = this.instancesOf(id);
    const past = instances.filter((r) => (ms(r['scheduledstart']) ?? 0) < now);
    const future = instances.filter((r) => (ms(r['scheduledstart']) ?? 0) >= now);
    for (const r of future) this.removeInstance(text(r['activityid']), caller, options);
    if (!past.length) {
      // "When you update the recurrence information of a recurring appointment series that has all the instances
      // slated to occur in future, all instances are deleted and new recurrence information is used to create or
      // expand new instances."
      this.patchSystem(this.master, id, { deletedexceptionslist: null });
      this.expand(id, caller, options, this.settings().recurrenceexpansionsynchcreatemax);
      return;
    }
    const lastPast = past[past.length - 1]!;
    const groupid = isLookup(before['groupid']) ? before['groupid'] : ({ id, logicalName: 'recurringappointmentmaster' } satisfies LookupRef);
    const keepsLive = (this.d.options.splitKeeps ?? 'live') === 'live';
    const ended = (source: Row): Row => {
      const zone = this.zoneOf(source);
      const lastStart = ms(lastPast['originalstartdate']) ?? ms(lastPast['scheduledstart'])!;
      return {
        groupid,
        patternendtype: 3,
        patternenddate: formatDateTime(midnightOf(localDateOf(lastStart, zone), zone)),
        effectiveenddate: formatDateTime(ms(lastPast['scheduledend']) ?? lastStart),
        expansionstatecode: 2,
        lastexpandedinstancedate: formatDateTime(lastStart),
        nextexpansioninstancedate: null,
        seriesstatus: false,
      };
    };
    const copyOf = (source: Row): Row => {
      const out: Row = {};
      for (const [k, v] of Object.entries(source)) if (!NOT_COPIED.has(k) && this.master.columns.has(k)) out[k] = v;
      return out;
    };
    const body = { statecode: before['statecode'], statuscode: before['statuscode'], recurringappointmentmaster_activity_parties: this.partyBody(this.d.engine.partiesOf(id)) };
    let liveId: string;
    if (keepsLive) {
      // The new master is a copy of the original series, ended at its last past instance, holding the history.
      const history = this.d.engine.create(this.master, body, caller, { emit: this.stepsFor(options), system: { ...copyOf(before), ...ended(before) }, noHooks: true });
      const historyId = text(history['activityid']);
      for (const r of past) this.patchSystem(this.appointment, text(r['activityid']), { seriesid: historyId });
      this.patchSystem(this.master, id, { groupid, deletedexceptionslist: null });
      liveId = id;
    } else {
      // The updated master ends with the history; a new master carries the new pattern.
      const live = this.d.engine.create(this.master, { ...body, statecode: after['statecode'], statuscode: after['statuscode'] }, caller, {
        emit: this.stepsFor(options),
        system: { ...copyOf(after), groupid, deletedexceptionslist: null, expansionstatecode: 0, lastexpandedinstancedate: null },
        noHooks: true,
      });
      liveId = text(live['activityid']);
      const restored = copyOf(before);
      this.patchSystem(this.master, id, { ...restored, ...ended(before), deletedexceptionslist: before['deletedexceptionslist'] ?? null });
    }
    // The live part expands only from now on (its past is the other master's history).
    this.floor.set(liveId, now);
    const liveRow = this.d.engine.get(this.master, liveId)!;
    const pattern = this.patternOf(liveRow);
    const recomputed: Row = { ...liveRow };
    this.computeMaster(recomputed, pattern, undefined);
    this.patchSystem(this.master, liveId, {
      effectivestartdate: recomputed['effectivestartdate'] ?? null,
      effectiveenddate: recomputed['effectiveenddate'] ?? null,
      scheduledstart: recomputed['scheduledstart'] ?? null,
      scheduledend: recomputed['scheduledend'] ?? null,
      expansionstatecode: 0,
      lastexpandedinstancedate: null,
      nextexpansioninstancedate: recomputed['nextexpansioninstancedate'] ?? null,
      seriesstatus: true,
    });
    this.expand(liveId, caller, options, this.settings().recurrenceexpansionsynchcreatemax);
  }

  private removeInstance(id: string, caller: Caller, options: WriteOptions): void {
    this.excepted.delete(id);
    this.d.engine.remove(this.appointment, id, caller, { emit: this.stepsFor(options), noHooks: true });
  }

  private afterRemove(def: EntityDef, before: Row, caller: Caller, options: WriteOptions): void {
    if (def === this.master) {
      // "Deleting a series deletes the record and all of the associated recurring appointment instances."
      const id = text(before['activityid']);
      for (const r of this.instancesOf(id)) this.removeInstance(text(r['activityid']), caller, options);
      this.floor.delete(id);
      return;
    }
    if (def !== this.appointment) return;
    const seriesId = text(before['seriesid']);
    this.excepted.delete(text(before['activityid']));
    if (!seriesId || (before['instancetypecode'] !== 2 && before['instancetypecode'] !== 3)) return;
    const master = this.d.engine.get(this.master, seriesId);
    if (!master) return;
    // "Deleting an appointment instance marks it an exception by creating an entry for the instance in the
    // RecurringAppointmentMaster.DeletedExceptionsList column". Its format is not documented: the simulator writes
    // the instance's original start (UTC, ISO 8601), one per line.
    const entry = text(before['originalstartdate']);
    const list = typeof master['deletedexceptionslist'] === 'string' && master['deletedexceptionslist'] ? `${master['deletedexceptionslist']}\n${entry}` : entry;
    this.patchSystem(this.master, seriesId, { deletedexceptionslist: list });
  }

  // ---- the asynchronous expansion job ----

  /** One run of the expansion job: up to RecurrenceExpansionJobBatchSize instances over the pending series. */
  runExpansionJob(): number {
    let budget = this.settings().recurrenceexpansionjobbatchsize;
    let created = 0;
    for (const row of [...this.d.store.table('recurringappointmentmaster').rows.values()]) {
      if (budget <= 0) break;
      if (row['expansionstatecode'] === 2) continue;
      const next = ms(row['nextexpansioninstancedate']);
      if (next === undefined || next >= this.windows().to) continue;
      const owner = isLookup(row['ownerid']) ? row['ownerid'].id : this.d.systemUserId();
      const caller: Caller = { authenticatedUserId: this.d.systemUserId(), userId: owner, tag: undefined, correlationId: this.d.ids.guid() };
      const n = this.expand(text(row['activityid']), caller, {}, budget);
      budget -= n;
      created += n;
    }
    return created;
  }

  /** Runs the job as often as its interval elapsed between two clock readings, stopping once a run has nothing to do. */
  clockAdvanced(fromMs: number, toMs: number): void {
    const interval = this.settings().recurrenceexpansionjobbatchinterval * 1000;
    const runs = Math.floor(toMs / interval) - Math.floor(fromMs / interval);
    for (let i = 0; i < runs; i++) if (this.runExpansionJob() === 0) break;
  }

  // ---- actions ----

  /**
   * AddRecurrence (bound to appointment, Target = the recurringappointmentmaster): "the data from the existing
   * appointment is copied to a new recurring appointment master instance and the existing appointment is deleted"
   * (create-recurring-appointment-series-instance-exception.md; webapi/reference/addrecurrence).
   */
  addRecurrence(appointmentId: string, body: unknown, caller: Caller): Row {
    const appointment = this.d.engine.get(this.appointment, appointmentId);
    if (!appointment) throw notFound('appointment', appointmentId.toLowerCase());
    if (appointment['instancetypecode'] !== 0) throw badValue(`Appointment ${appointmentId} is part of a recurring series (instancetypecode ${text(appointment['instancetypecode'])}); AddRecurrence takes a single appointment.`);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badValue('The AddRecurrence body must be a JSON object with a Target.');
    const target = (body as Record<string, unknown>)['Target'];
    if (typeof target !== 'object' || target === null || Array.isArray(target)) throw badValue('AddRecurrence needs a Target: the recurringappointmentmaster with the recurrence information.');
    const type = (target as Record<string, unknown>)['@odata.type'];
    if (type !== undefined && type !== 'Microsoft.Dynamics.CRM.recurringappointmentmaster') throw badValue(`AddRecurrence Target must be a Microsoft.Dynamics.CRM.recurringappointmentmaster, not ${JSON.stringify(type)}.`);
    const masterBody: Record<string, unknown> = { ...(target as Record<string, unknown>) };
    const carried = ['subject', 'description', 'location', 'prioritycode', 'category', 'subcategory', 'isalldayevent', 'ismapiprivate', 'globalobjectid', 'outlookownerapptid'];
    for (const c of carried) if (masterBody[c] === undefined && appointment[c] !== undefined && appointment[c] !== null) masterBody[c] = appointment[c];
    if (masterBody['starttime'] === undefined && appointment['scheduledstart']) masterBody['starttime'] = appointment['scheduledstart'];
    if (masterBody['endtime'] === undefined && masterBody['duration'] === undefined && appointment['scheduledend']) masterBody['endtime'] = appointment['scheduledend'];
    if (masterBody['patternstartdate'] === undefined && appointment['scheduledstart']) masterBody['patternstartdate'] = appointment['scheduledstart'];
    if (masterBody['recurringappointmentmaster_activity_parties'] === undefined) masterBody['recurringappointmentmaster_activity_parties'] = this.partyBody(this.d.engine.partiesOf(appointmentId));
    const system: Row = {};
    for (const c of ['ownerid', 'regardingobjectid']) if (isLookup(appointment[c])) system[c] = appointment[c];
    let master: Row;
    this.quietMasterCreate = true;
    try {
      master = this.d.engine.create(this.master, masterBody, caller, { emit: false, system });
    } finally {
      this.quietMasterCreate = false;
    }
    const masterId = text(master['activityid']);
    this.d.engine.remove(this.appointment, appointmentId, caller);
    const row = this.d.engine.get(this.master, masterId)!;
    const targetMap = new Map<string, Value | Row[]>();
    for (const [k, v] of Object.entries(row)) if (v !== null) targetMap.set(k, v);
    this.d.engine.raise({
      message: 'AddRecurrence',
      def: this.master,
      id: masterId,
      sent: [...targetMap.keys()],
      target: targetMap,
      pre: undefined,
      post: { row: { ...row }, parties: this.d.engine.partiesOf(masterId) },
      caller,
      operationCreatedOn: this.d.now(),
      extra: { input: { AppointmentId: appointmentId.toLowerCase() }, output: { id: masterId } },
    });
    return row;
  }

  /**
   * DeleteOpenInstances (Target, SeriesEndDate, StateOfPastInstances): deletes the open and scheduled instances from
   * SeriesEndDate on, sets the earlier ones to StateOfPastInstances, ends the series at its last instance before
   * SeriesEndDate and sets it to canceled (delete-or-end-a-recurring-appointment-series-or-instance.md).
   */
  deleteOpenInstances(boundId: string | undefined, body: unknown, caller: Caller): void {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badValue('The DeleteOpenInstances body must be a JSON object.');
    const b = body as Record<string, unknown>;
    let id = boundId;
    if (id === undefined) {
      const target = b['Target'];
      if (typeof target !== 'object' || target === null) throw badValue('DeleteOpenInstances needs a Target: { "@odata.type": "Microsoft.Dynamics.CRM.recurringappointmentmaster", "activityid": "<guid>" }.');
      const t = target as Record<string, unknown>;
      const fromOdataId = typeof t['@odata.id'] === 'string' ? /\(([0-9a-fA-F-]{36})\)$/.exec(t['@odata.id'])?.[1] : undefined;
      const given = typeof t['activityid'] === 'string' ? t['activityid'] : fromOdataId;
      if (!given || !isGuid(given)) throw badValue('DeleteOpenInstances Target needs the activityid of the recurringappointmentmaster.');
      if (t['@odata.type'] !== undefined && t['@odata.type'] !== 'Microsoft.Dynamics.CRM.recurringappointmentmaster') throw badValue(`DeleteOpenInstances Target must be a Microsoft.Dynamics.CRM.recurringappointmentmaster, not ${JSON.stringify(t['@odata.type'])}.`);
      id = given;
    }
    id = id.toLowerCase();
    const master = this.d.engine.get(this.master, id);
    if (!master) throw notFound('recurringappointmentmaster', id);
    const endText = b['SeriesEndDate'];
    const endMs = typeof endText === 'string' ? Date.parse(/([zZ]|[+-]\d{2}:\d{2})$/.test(endText) ? endText : `${endText}Z`) : NaN;
    if (Number.isNaN(endMs)) throw badValue('DeleteOpenInstances needs SeriesEndDate, an Edm.DateTimeOffset.');
    const state = b['StateOfPastInstances'];
    if (typeof state !== 'number' || !Number.isInteger(state) || !stateOption(this.appointment, state)) throw badValue('DeleteOpenInstances needs StateOfPastInstances, an appointment statecode (0 Open, 1 Completed, 2 Canceled, 3 Scheduled).');
    const options: WriteOptions = {};
    let lastKept: Row | undefined;
    for (const r of this.instancesOf(id)) {
      const open = r['statecode'] === 0 || r['statecode'] === 3;
      const start = ms(r['scheduledstart']) ?? 0;
      const rid = text(r['activityid']);
      if (start >= endMs) {
        if (open) this.removeInstance(rid, caller, options);
        continue;
      }
      lastKept = r;
      if (open && r['statecode'] !== state) {
        this.d.engine.update(this.appointment, rid, { statecode: state, statuscode: stateOption(this.appointment, state)!.defaultStatus }, caller, { emit: this.stepsFor(options), noHooks: true });
      }
    }
    const zone = this.zoneOf(master);
    const lastStart = lastKept ? (ms(lastKept['originalstartdate']) ?? ms(lastKept['scheduledstart'])!) : undefined;
    const row = this.patchSystem(this.master, id, {
      patternendtype: 3,
      patternenddate: formatDateTime(midnightOf(localDateOf(lastStart ?? endMs, zone), zone)),
      effectiveenddate: lastKept ? text(lastKept['scheduledend']) || formatDateTime(lastStart!) : null,
      expansionstatecode: 2,
      nextexpansioninstancedate: null,
      statecode: 2,
      statuscode: 4,
      modifiedon: formatDateTime(this.d.now()),
    });
    const targetMap = new Map<string, Value | Row[]>([['activityid', id]]);
    this.d.engine.raise({
      message: 'DeleteOpenInstances',
      def: this.master,
      id,
      sent: [],
      target: targetMap,
      pre: { row: { ...master }, parties: this.d.engine.partiesOf(id) },
      post: { row: { ...row }, parties: this.d.engine.partiesOf(id) },
      caller,
      operationCreatedOn: this.d.now(),
      extra: { input: { SeriesEndDate: formatDateTime(endMs), StateOfPastInstances: state } },
    });
  }

  /** The first occurrence of a master's pattern (for inspection). */
  firstOf(row: Row): Occurrence | undefined {
    return firstOccurrence(this.patternOf(row));
  }
}
