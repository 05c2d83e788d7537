// The real side of the chaos test: people acting in Dynamics 365 and Outlook through the simulators' admin APIs,
// faults switched on in the simulators' fault plans, the host process killed, and the state read back from the
// simulators to compare with the model. Nothing here touches the sync's own state.
import type { Stack } from '../../dev/stack/index.js';
import type { FaultPlan as GraphFaultPlan, HandledRequest, InspectedItem } from '../../dev/sim/graph/index.js';
import type { FaultPlan as DataverseFaultPlan } from '../../dev/sim/dataverse/index.js';
import { daysFromNow, tracked as trackedCategory } from '../support/e2e.js';
import { isSyncError } from '../../shared/errors.js';
import { hasOccurrenceFacts, isMeeting, kinds, observed, ownerCopy, taskTables, type CopyState, type Fields, type ItemModel, type Kind, type MailModel, type Model, type TaskTable, type UserKey } from './model.js';

const setOf: Record<Kind, string> = { appointment: 'appointments', series: 'recurringappointmentmasters', task: 'tasks', contact: 'contacts' };
const taskSetOf: Record<TaskTable, string> = { task: 'tasks', phonecall: 'phonecalls', letter: 'letters', fax: 'faxes' };
/** The entity set an item's record lives in (a task item's table: task, phone call, letter or fax). */
const setOfItem = (item: ItemModel): string => (item.kind === 'task' ? taskSetOf[item.table ?? 'task'] : setOf[item.kind]);
const graphKind: Record<Kind, 'event' | 'todoTask' | 'contact'> = { appointment: 'event', series: 'event', task: 'todoTask', contact: 'contact' };
/** A series of the run: three daily occurrences at 12:00 UTC, `day` days ahead (the same local date for both users). */
export const seriesOccurrences = 3;
/** Each user's zone as Dataverse codes it (timezonedefinition), and its offset in December, when the run's days fall. */
const seriesZone: Record<UserKey, { code: number; offsetHours: number }> = { alice: { code: 110, offsetHours: 1 }, bob: { code: 35, offsetHours: -5 } };
/** Which event types a kind's items are: a single meeting, or a series' master (occurrences and exceptions are its own). */
const eventTypes: Partial<Record<Kind, readonly string[]>> = { appointment: ['singleInstance'], series: ['seriesMaster'] };

export interface RealIds {
  d365?: string;
  /** The owner's copy (and, for a meeting, the attendee's), by mailbox. */
  copies: Partial<Record<UserKey, { id: string; listId: string }>>;
  /** Whether the owner's To Do copy of a task was completed at the last settle (a completion made in Dynamics 365 may not have reached it). */
  ownerCopyCompleted?: boolean;
  /** Whether the task's Dynamics 365 record was completed at the last settle (a To Do completion may not have reached it). */
  recordCompleted?: boolean;
}

/** Where the run's outside correspondent writes from (an address no user or record of the run has). */
const outsider = 'partner@fabrikam.example';

/**
 * A Graph call the test makes as a person would, through the faults the run has set: repeated until it goes
 * through (up to 20 times; a call repeated after an answer lost past its write does the same again). Undefined when
 * the item is not found.
 */
async function throughFaults<T>(call: () => Promise<T>): Promise<T | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (isSyncError(error, 'NotFound')) return undefined;
      if (attempt >= 20) throw error;
    }
  }
}

/** One occurrence as a side holds it: its subject value and how many hours after its original start it starts. */
export interface OccurrenceSeen {
  value: string;
  movedHours: number;
}

/** A series' occurrences as each side holds them, by place in the series (outlook undefined: no copy seen). */
export interface OccurrencesSeen {
  d365: Record<number, OccurrenceSeen>;
  outlook: Record<number, OccurrenceSeen> | undefined;
}

export class World {
  readonly ids = new Map<string, RealIds>();
  /** Each series' first occurrence start (epoch ms), by key: an occurrence's place in its series is counted from it. */
  private readonly seriesStarts = new Map<string, number>();
  /** Each incoming mail's copy id, by recipient. */
  readonly mailIds = new Map<string, Partial<Record<UserKey, string>>>();
  graphPlan: GraphFaultPlan = {};
  dataversePlan: DataverseFaultPlan = {};
  /** What happened, for the failure message. */
  readonly trail: string[] = [];
  private armed: (() => void) | undefined;

  constructor(readonly stack: Stack) {}

  user(u: UserKey) {
    return this.stack.users[u]!;
  }

  as(u: UserKey) {
    return this.stack.dataverse.admin.as(this.user(u).systemUserId);
  }

  note(line: string): void {
    this.trail.push(line);
  }

  /** The operation running now (with when it began) and each finished one's length, for a run that outlives its budget. */
  current: { op: string; index: number; since: number } | undefined;
  readonly timings: { op: string; index: number; ms: number }[] = [];
  /** Called with each finished operation's timing (CHAOS_LOG writes it next to the host's lines). */
  onTiming: ((t: { op: string; index: number; ms: number }) => void) | undefined;

  begin(op: string): void {
    this.current = { op, index: this.timings.length, since: Date.now() };
  }

  end(): void {
    if (!this.current) return;
    const t = { op: this.current.op, index: this.current.index, ms: Date.now() - this.current.since };
    this.timings.push(t);
    this.current = undefined;
    this.onTiming?.(t);
  }

  /** Where the run is: operations done, the one running and for how long, the slowest so far, and their total by type. */
  progress(): string {
    const now = Date.now();
    const slowest = [...this.timings].sort((a, b) => b.ms - a.ms).slice(0, 5);
    const byType = new Map<string, { n: number; ms: number }>();
    for (const t of this.timings) {
      const type = /"t":"(\w+)"/.exec(t.op)?.[1] ?? '?';
      const e = byType.get(type) ?? { n: 0, ms: 0 };
      byType.set(type, { n: e.n + 1, ms: e.ms + t.ms });
    }
    return [
      `${this.timings.length} operation(s) done`,
      this.current ? `running #${this.current.index} ${this.current.op} for ${((now - this.current.since) / 1000).toFixed(1)} s` : 'none running',
      `slowest: ${slowest.map((t) => `#${t.index} ${t.op} ${(t.ms / 1000).toFixed(1)} s`).join('; ')}`,
      `by type: ${[...byType].map(([type, e]) => `${type} ${e.n}x ${(e.ms / 1000).toFixed(1)} s`).join(', ')}`,
    ].join('\n');
  }

  // --- Dynamics 365 ------------------------------------------------------------------------------------------
  createInDynamics(key: string, kind: Kind, owner: UserKey, f: Fields, day: number, attendee?: UserKey, table: TaskTable = 'task'): void {
    const o = this.user(owner);
    const bind = { 'ownerid@odata.bind': `/systemusers(${o.systemUserId})` };
    let record: Record<string, unknown>;
    if (kind === 'appointment') {
      const start = daysFromNow(day, 8 + (day % 8));
      record = this.as(owner).create('appointments', {
        subject: `${key} ${f.a}`,
        location: f.b,
        scheduledstart: start.toISOString(),
        scheduledend: new Date(start.getTime() + 3600_000).toISOString(),
        ...bind,
        appointment_activity_parties: [
          { 'partyid_systemuser@odata.bind': `/systemusers(${o.systemUserId})`, participationtypemask: 7 },
          ...(attendee ? [{ 'partyid_systemuser@odata.bind': `/systemusers(${this.user(attendee).systemUserId})`, participationtypemask: 5 }] : []),
        ],
      });
    } else if (kind === 'series') {
      // A daily series in the owner's zone; patternstartdate is the owner's local midnight of the first day, as an
      // instant (test/e2e/recurring.test.ts writes it the same way).
      const start = daysFromNow(day, 12);
      this.seriesStarts.set(key, start.getTime());
      const zone = seriesZone[owner];
      record = this.as(owner).create('recurringappointmentmasters', {
        subject: `${key} ${f.a}`,
        location: f.b,
        utcconversiontimezonecode: zone.code,
        recurrencepatterntype: 0,
        interval: 1,
        starttime: start.toISOString(),
        endtime: new Date(start.getTime() + 3600_000).toISOString(),
        patternstartdate: new Date(start.getTime() - (12 + zone.offsetHours) * 3600_000).toISOString(),
        patternendtype: 2,
        occurrences: seriesOccurrences,
        ...bind,
      });
    } else if (kind === 'task') {
      record = this.as(owner).create(taskSetOf[table], { subject: `${key} ${f.a}`, scheduledend: daysFromNow(day).toISOString(), ...bind });
    } else {
      record = this.as(owner).create('contacts', { firstname: 'Chaos', lastname: key, jobtitle: f.a, department: f.b, ...bind });
    }
    this.ids.set(key, { d365: String(record[kind === 'contact' ? 'contactid' : 'activityid']), copies: {} });
  }

  editInDynamics(item: ItemModel, field: keyof Fields, value: string): boolean {
    const id = this.ids.get(item.key)?.d365;
    if (!id) return false;
    const body: Record<string, unknown> =
      item.kind === 'contact' ? (field === 'a' ? { jobtitle: value } : { department: value }) : field === 'a' ? { subject: `${item.key} ${value}` } : { location: value };
    this.as(item.owner).update(setOfItem(item), id, body);
    return true;
  }

  completeInDynamics(item: ItemModel): boolean {
    const id = this.ids.get(item.key)?.d365;
    if (!id) return false;
    this.as(item.owner).complete(setOfItem(item), id);
    return true;
  }

  deleteInDynamics(item: ItemModel): boolean {
    const id = this.ids.get(item.key)?.d365;
    if (!id) return false;
    this.as(item.owner).delete(setOfItem(item), id);
    return true;
  }

  reassign(item: ItemModel, to: UserKey): boolean {
    const id = this.ids.get(item.key)?.d365;
    if (!id) return false;
    this.as(item.owner).update(setOfItem(item), id, { 'ownerid@odata.bind': `/systemusers(${this.user(to).systemUserId})` });
    // The new owner's copy is found by the next refresh.
    const ids = this.ids.get(item.key)!;
    delete ids.copies[to];
    return true;
  }

  // --- Outlook -------------------------------------------------------------------------------------------------
  async createInOutlook(key: string, kind: Kind, owner: UserKey, f: Fields, day: number, track: boolean): Promise<void> {
    const u = this.user(owner);
    const categories = track ? [trackedCategory] : [];
    let created: Record<string, unknown>;
    let listId = '';
    if (kind === 'appointment') {
      const start = daysFromNow(day, 8 + (day % 8));
      created = await this.stack.graph.admin.createEvent(u.graph.id, {
        subject: `${key} ${f.a}`,
        location: { displayName: f.b },
        start: { dateTime: start.toISOString().slice(0, 19), timeZone: 'UTC' },
        end: { dateTime: new Date(start.getTime() + 3600_000).toISOString().slice(0, 19), timeZone: 'UTC' },
        categories,
      });
    } else if (kind === 'series') {
      const start = daysFromNow(day, 12);
      this.seriesStarts.set(key, start.getTime());
      created = await this.stack.graph.admin.createEvent(u.graph.id, {
        subject: `${key} ${f.a}`,
        location: { displayName: f.b },
        start: { dateTime: start.toISOString().slice(0, 19), timeZone: 'UTC' },
        end: { dateTime: new Date(start.getTime() + 3600_000).toISOString().slice(0, 19), timeZone: 'UTC' },
        recurrence: { pattern: { type: 'daily', interval: 1 }, range: { type: 'numbered', startDate: start.toISOString().slice(0, 10), numberOfOccurrences: seriesOccurrences } },
        categories,
      });
    } else if (kind === 'task') {
      listId = u.graph.defaultTodoListId;
      created = await this.stack.graph.admin.act({ action: 'create', user: u.graph.id, kind: 'todoTask', listId, body: { title: `${key} ${f.a}`, categories } });
    } else {
      created = await this.stack.graph.admin.createContact(u.graph.id, { givenName: 'Chaos', surname: key, jobTitle: f.a, department: f.b, categories });
    }
    this.ids.set(key, { copies: { [owner]: { id: String(created.id), listId } } });
  }

  private ownerCopyId(item: ItemModel) {
    return this.ids.get(item.key)?.copies[item.owner];
  }

  /**
   * Edits the subject of one occurrence of a series (by its place, 0-2), making it an exception: in Dynamics 365 its
   * instance (an appointment of the series), in Outlook its occurrence, through Graph as Outlook does (an
   * occurrence's id is computed, so the simulator's person actions, which work on stored items, cannot address it;
   * test/e2e/recurring.test.ts does the same). Graph's fault plan applies to that call: it is repeated until it
   * went through (the same PATCH again, so an answer lost after the write does no harm). False when the occurrence
   * is not there (cancelled).
   */
  async editOccurrence(item: ItemModel, side: 'd365' | 'outlook', index: number, value: string): Promise<boolean> {
    const subject = `${item.key} ${value}`;
    if (side === 'd365') {
      const instance = this.instances(item).get(index);
      if (!instance) return false;
      this.as(item.owner).update('appointments', String(instance.activityid), { subject });
      return true;
    }
    const occurrence = (await this.occurrencesInOutlook(item))?.get(index);
    if (!occurrence) return false;
    const done = await throughFaults(() => this.stack.runtime.graph.updateEvent(this.user(item.owner).graph.id, String(occurrence.id), { subject }));
    return done !== undefined;
  }

  /**
   * Cancels the series' occurrence at `index`: in Dynamics 365 its instance deleted (Dataverse records it in the
   * master's deletedexceptionslist), in Outlook the occurrence deleted by its organizer (an instance's own id, as
   * test/e2e/recurring.test.ts does). False when it is not there.
   */
  async cancelOccurrence(item: ItemModel, side: 'd365' | 'outlook', index: number): Promise<boolean> {
    if (side === 'd365') {
      const instance = this.instances(item).get(index);
      if (!instance) return false;
      this.as(item.owner).delete('appointments', String(instance.activityid));
      return true;
    }
    const occurrence = (await this.occurrencesInOutlook(item))?.get(index);
    if (!occurrence) return false;
    // A delete whose answer was lost (a 5xx after the write) is repeated and then answers 404, though it took
    // effect: whether the occurrence is gone afterwards says it.
    await throughFaults(() => this.stack.runtime.graph.deleteEvent(this.user(item.owner).graph.id, String(occurrence.id)));
    return (await this.occurrencesInOutlook(item))?.has(index) === false;
  }

  /**
   * Moves one occurrence of a series (by its place, 0-2) to start `hours` after its original start, keeping its
   * length (an hour): in Dynamics 365 its instance's scheduled start and end, in Outlook its occurrence's start and
   * end through Graph, as for an edit (editOccurrence). False when the occurrence is not there.
   */
  async moveOccurrence(item: ItemModel, side: 'd365' | 'outlook', index: number, hours: number): Promise<boolean> {
    const first = this.seriesStarts.get(item.key);
    if (first === undefined) throw new Error(`series ${item.key} has no first start recorded`);
    const start = new Date(first + index * 86_400_000 + hours * 3600_000);
    const end = new Date(start.getTime() + 3600_000);
    if (side === 'd365') {
      const instance = this.instances(item).get(index);
      if (!instance) return false;
      this.as(item.owner).update('appointments', String(instance.activityid), { scheduledstart: start.toISOString(), scheduledend: end.toISOString() });
      return true;
    }
    const occurrence = (await this.occurrencesInOutlook(item))?.get(index);
    if (!occurrence) return false;
    const utc = (d: Date) => ({ dateTime: d.toISOString().slice(0, 19), timeZone: 'UTC' });
    const done = await throughFaults(() => this.stack.runtime.graph.updateEvent(this.user(item.owner).graph.id, String(occurrence.id), { start: utc(start), end: utc(end) }));
    return done !== undefined;
  }

  /** An occurrence's place in its series (0-2): whole days from the series' first start (daily at 12:00 UTC). */
  private ordinal(item: ItemModel, originalStart: unknown): number {
    const first = this.seriesStarts.get(item.key);
    if (first === undefined) throw new Error(`series ${item.key} has no first start recorded`);
    return Math.round((Date.parse(String(originalStart)) - first) / 86_400_000);
  }

  /** A series' Dynamics 365 instances by their place in the series. */
  private instances(item: ItemModel): Map<number, Record<string, unknown>> {
    const id = this.ids.get(item.key)?.d365;
    if (!id) return new Map();
    return new Map(
      this.stack.dataverse.admin
        .records('appointments')
        .filter((r) => r.seriesid === id)
        .map((r) => [this.ordinal(item, r.originalstartdate), r] as const),
    );
  }

  /** The occurrences of the owner's copy of a series by their place in the series (undefined: no copy seen). */
  private async occurrencesInOutlook(item: ItemModel): Promise<Map<number, { id?: string | null; subject?: string | null; start?: { dateTime?: string | null } | null; originalStart?: string | null }> | undefined> {
    const master = this.ownerCopyId(item);
    if (!master) return undefined;
    const window = { start: new Date(Date.now() - 86_400_000), end: new Date(Date.now() + 60 * 86_400_000) };
    // The copy gone (deleted on either side, undefined): no occurrences to edit or compare; the item checks count copies.
    const all = await throughFaults(() => this.stack.runtime.graph.seriesInstances(this.user(item.owner).graph.id, master.id, window));
    return all && new Map(all.filter((o) => o.type === 'occurrence' || o.type === 'exception').map((o) => [this.ordinal(item, o.originalStart), o] as const));
  }

  /**
   * Each series with edited, moved or cancelled occurrences (of those `which` picks): the subject values and the
   * moves of its instances and of its owner's occurrences, by place. Outlook's times are read in UTC (the client
   * asks for them so), Dataverse's are UTC.
   */
  async occurrences(model: Model, which: (item: ItemModel) => boolean = () => true): Promise<Map<string, OccurrencesSeen>> {
    const out = new Map<string, OccurrencesSeen>();
    const valueOf = (item: ItemModel, subject: unknown) => (typeof subject === 'string' && subject.startsWith(`${item.key} `) ? subject.slice(item.key.length + 1) : String(subject));
    const hoursBetween = (from: unknown, to: unknown) => (Date.parse(String(to)) - Date.parse(String(from))) / 3600_000;
    for (const item of model.items) {
      if (!hasOccurrenceFacts(item) || !which(item)) continue;
      const d365 = Object.fromEntries([...this.instances(item)].map(([i, r]) => [i, { value: valueOf(item, r.subject), movedHours: hoursBetween(r.originalstartdate, r.scheduledstart) }]));
      const outlook = await this.occurrencesInOutlook(item);
      const mailbox = outlook && Object.fromEntries([...outlook].map(([i, o]) => [i, { value: valueOf(item, o.subject), movedHours: hoursBetween(o.originalStart, `${o.start?.dateTime ?? ''}Z`) }]));
      out.set(item.key, { d365, outlook: mailbox });
    }
    return out;
  }

  async editInOutlook(item: ItemModel, field: keyof Fields, value: string): Promise<boolean> {
    const c = this.ownerCopyId(item);
    if (!c) return false;
    const body: Record<string, unknown> =
      isMeeting(item.kind)
        ? field === 'a'
          ? { subject: `${item.key} ${value}` }
          : { location: { displayName: value } }
        : item.kind === 'task'
          ? { title: `${item.key} ${value}` }
          : field === 'a'
            ? { jobTitle: value }
            : { department: value };
    await this.stack.graph.admin.act({ action: 'update', user: this.user(item.owner).graph.id, kind: graphKind[item.kind], id: c.id, body, ...(c.listId ? { listId: c.listId } : {}) });
    return true;
  }

  async completeInOutlook(item: ItemModel): Promise<boolean> {
    const c = this.ownerCopyId(item);
    if (!c) return false;
    await this.stack.graph.admin.act({ action: 'update', user: this.user(item.owner).graph.id, kind: 'todoTask', id: c.id, listId: c.listId, body: { status: 'completed' } });
    return true;
  }

  async deleteInOutlook(item: ItemModel): Promise<boolean> {
    const c = this.ownerCopyId(item);
    if (!c) return false;
    await this.stack.graph.admin.act({ action: 'delete', user: this.user(item.owner).graph.id, kind: graphKind[item.kind], id: c.id, ...(c.listId ? { listId: c.listId } : {}) });
    return true;
  }

  async track(item: ItemModel): Promise<boolean> {
    const c = this.ownerCopyId(item);
    if (!c) return false;
    await this.stack.graph.admin.setCategory(this.user(item.owner).graph.id, graphKind[item.kind], c.id, trackedCategory, true, c.listId || undefined);
    return true;
  }

  async setAttendees(item: ItemModel, who: UserKey | undefined): Promise<boolean> {
    const c = this.ownerCopyId(item);
    if (!c) return false;
    const attendees = who ? [{ emailAddress: { address: this.user(who).userPrincipalName }, type: 'required' }] : [];
    await this.stack.graph.admin.updateEvent(this.user(item.owner).graph.id, c.id, { attendees });
    return true;
  }

  // --- mail ---------------------------------------------------------------------------------------------------
  /** Mail from outside arriving in each recipient's Inbox (one Message-ID for every copy), tracked at once by `trackedBy`. */
  async receiveMail(key: string, recipients: UserKey[], trackedBy: UserKey[]): Promise<void> {
    const ids: Partial<Record<UserKey, string>> = {};
    for (const u of recipients) {
      const created = await this.stack.graph.admin.act({
        action: 'create',
        user: this.user(u).graph.id,
        kind: 'message',
        folderId: 'inbox',
        body: {
          subject: `${key} mail`,
          body: { contentType: 'text', content: 'chaos' },
          from: { emailAddress: { address: outsider } },
          toRecipients: recipients.map((r) => ({ emailAddress: { address: this.user(r).userPrincipalName } })),
          internetMessageId: `<${key}@fabrikam.example>`,
          categories: trackedBy.includes(u) ? [trackedCategory] : [],
        },
      });
      ids[u] = String(created.id);
    }
    this.mailIds.set(key, ids);
  }

  async trackMail(mail: MailModel, by: UserKey): Promise<boolean> {
    const id = this.mailIds.get(mail.key)?.[by];
    if (!id) return false;
    await this.stack.graph.admin.setCategory(this.user(by).graph.id, 'message', id, trackedCategory, true);
    return true;
  }

  /**
   * A person in Dynamics 365 writes an email to the outside correspondent and sends it: SendEmail with IssueSend
   * true, which moves it to Completed / Pending Send (dev/sim/dataverse/email.ts), done in the simulator as the
   * person's own action (the faults are the sync's to meet, not the person's).
   */
  sendMail(key: string, from: UserKey): void {
    const u = this.user(from);
    const person = this.as(from);
    const created = person.create('emails', {
      subject: `${key} out`,
      description: '<p>chaos</p>',
      'ownerid@odata.bind': `/systemusers(${u.systemUserId})`,
      email_activity_parties: [
        { 'partyid_systemuser@odata.bind': `/systemusers(${u.systemUserId})`, participationtypemask: 1 },
        { addressused: outsider, participationtypemask: 2 },
      ],
    });
    person.setState('emails', String(created.activityid), 1, 6);
  }

  // --- faults and crashes ----------------------------------------------------------------------------------
  async applyFaults(): Promise<void> {
    await this.stack.graph.admin.setFaultPlan(this.graphPlan);
    this.stack.dataverse.admin.setFaultPlan(this.dataversePlan);
  }

  async clearFaults(): Promise<void> {
    this.graphPlan = {};
    this.dataversePlan = {};
    await this.applyFaults();
  }

  /** Kills the host now, or right after the next write either service takes (before the host hears the answer). */
  async crash(afterWrite: boolean): Promise<void> {
    const child = this.stack.child!;
    if (afterWrite) {
      await new Promise<void>((resolve) => {
        const onHandled = (r: HandledRequest) => {
          if (!r.write) return;
          done();
        };
        // Nothing may be in flight: then the host dies idle, which is a crash too.
        const timer = setTimeout(() => done(), 3_000);
        const done = () => {
          clearTimeout(timer);
          this.stack.graph.requests.off('handled', onHandled);
          this.stack.dataverse.requests.off('handled', onHandled);
          void child.kill();
          resolve();
        };
        this.stack.graph.requests.on('handled', onHandled);
        this.stack.dataverse.requests.on('handled', onHandled);
      });
    }
    await child.kill();
    await child.restart();
  }

  // --- reading the state -----------------------------------------------------------------------------------
  async settle(): Promise<void> {
    // A killed host's locked changes come back only when their lock expires (a minute), and changes waiting on their
    // claim back off meanwhile: a settle after a kill can take minutes.
    await this.stack.settled({ timeoutMs: 240_000 });
    await this.stack.host.fireTimer('pollTodo');
    await this.stack.settled({ timeoutMs: 240_000 });
  }

  /** Every Dynamics 365 record and mailbox item carrying a key of this run (keyPrefix). */
  async snapshot(keyPrefix: string): Promise<Snapshot> {
    const none = (): Record<Kind, never[]> => ({ appointment: [], series: [], task: [], contact: [] });
    const records: Record<Kind, Record<string, unknown>[]> = none();
    for (const kind of kinds) {
      const sets = kind === 'task' ? taskTables.map((t) => taskSetOf[t]) : [setOf[kind]];
      // A series' instances are appointments Dataverse expanded from it (instancetypecode 2-4): the series' own.
      const own = (r: Record<string, unknown>) => kind !== 'appointment' || !r.instancetypecode;
      records[kind] = sets.flatMap((set) => this.stack.dataverse.admin.records(set)).filter((r) => own(r) && keyOfRecord(kind, r)?.startsWith(keyPrefix));
    }
    const mailbox: Record<UserKey, Record<Kind, InspectedItem[]>> = { alice: none(), bob: none() };
    for (const u of ['alice', 'bob'] as const) {
      const events = await this.stack.graph.admin.items({ user: this.user(u).graph.id, kind: 'event' });
      for (const kind of kinds) {
        const types = eventTypes[kind];
        const items = types ? events.filter((i) => types.includes(String(i.item.type))) : await this.stack.graph.admin.items({ user: this.user(u).graph.id, kind: graphKind[kind] });
        mailbox[u][kind] = items.filter((i) => keyOfItem(kind, i)?.startsWith(keyPrefix));
      }
    }
    const emails = this.stack.dataverse.admin.records('emails').filter((r) => keyOfMail(r.subject)?.startsWith(keyPrefix));
    const byGraphId = new Map((['alice', 'bob'] as const).map((u) => [this.user(u).graph.id, u]));
    const sent = (await this.stack.graph.admin.sentMail()).filter((m) => keyOfMail(m.subject)?.startsWith(keyPrefix)).map((m) => ({ subject: m.subject, from: byGraphId.get(m.fromUserId) }));
    return { records, mailbox, emails, sent };
  }

  /** Learns the ids of copies the sync made (a user can only act on a copy they can see). */
  async refresh(model: Model, keyPrefix: string): Promise<void> {
    const snap = await this.snapshot(keyPrefix);
    for (const item of model.items) {
      // No operation acts on a frozen item again (and one a delete let go of has no owner's copy any more).
      if (item.frozen) continue;
      const ids = this.ids.get(item.key) ?? { copies: {} };
      this.ids.set(item.key, ids);
      const records = snap.records[item.kind].filter((r) => keyOfRecord(item.kind, r) === item.key);
      if (!ids.d365 && records.length === 1) ids.d365 = String(records[0]![item.kind === 'contact' ? 'contactid' : 'activityid']);
      const own = ownerCopy(item);
      const mine = snap.mailbox[own.mailbox][item.kind].filter((i) => keyOfItem(item.kind, i) === item.key);
      if (!ids.copies[own.mailbox] && mine.length === 1) ids.copies[own.mailbox] = { id: mine[0]!.id, listId: item.kind === 'task' ? mine[0]!.parentId : '' };
      const record = records.length === 1 ? recordFields(item.kind, records[0]!) : undefined;
      const copy = mine.length === 1 ? itemFields(item.kind, mine[0]!) : undefined;
      if (item.kind === 'task') {
        ids.ownerCopyCompleted = copy?.completed === true;
        ids.recordCompleted = record?.completed === true;
        item.closedOnBoth = ids.ownerCopyCompleted && ids.recordCompleted && item.d365.completed && own.completed;
      }
      // Which edits the sync has seen on both sides, and which side won a conflict (model.ts `observed`).
      if (record && copy && item.d365.exists && own.exists) for (const f of comparedFields(item.kind)) observed(item, f, record.fields[f], copy.fields[f]);
    }
  }
}

export interface Snapshot {
  records: Record<Kind, Record<string, unknown>[]>;
  mailbox: Record<UserKey, Record<Kind, InspectedItem[]>>;
  /** Dynamics 365 email activities of the run. */
  emails: Record<string, unknown>[];
  /** The messages the mailboxes sent, as Exchange logged them. */
  sent: { subject: string; from: UserKey | undefined }[];
}

/** A mail's key: the first word of its subject (a sent copy's subject may carry a tracking token after it). */
export function keyOfMail(subject: unknown): string | undefined {
  return typeof subject === 'string' ? subject.split(' ')[0] : undefined;
}

export function keyOfRecord(kind: Kind, r: Record<string, unknown>): string | undefined {
  const v = kind === 'contact' ? r.lastname : r.subject;
  return typeof v === 'string' ? v.split(' ')[0] : undefined;
}

export function keyOfItem(kind: Kind, i: InspectedItem): string | undefined {
  const v = kind === 'contact' ? i.item.surname : kind === 'task' ? i.item.title : i.item.subject;
  return typeof v === 'string' ? v.split(' ')[0] : undefined;
}

const text = (v: unknown): string => (typeof v === 'string' ? v : '');

/** The model's fields as a Dynamics 365 record holds them. */
export function recordFields(kind: Kind, r: Record<string, unknown>): { fields: Partial<Fields>; completed: boolean } {
  const rest = (s: unknown) => (typeof s === 'string' ? s.split(' ').slice(1).join(' ') : '');
  if (kind === 'contact') return { fields: { a: text(r.jobtitle), b: text(r.department) }, completed: false };
  if (kind === 'task') return { fields: { a: rest(r.subject) }, completed: r.statecode === 1 };
  return { fields: { a: rest(r.subject), b: text(r.location) }, completed: r.statecode === 1 };
}

/** The model's fields as a mailbox item holds them. */
export function itemFields(kind: Kind, i: InspectedItem): { fields: Partial<Fields>; completed: boolean; cancelled: boolean } {
  const rest = (s: unknown) => (typeof s === 'string' ? s.split(' ').slice(1).join(' ') : '');
  const x = i.item;
  if (kind === 'contact') return { fields: { a: text(x.jobTitle), b: text(x.department) }, completed: false, cancelled: false };
  if (kind === 'task') return { fields: { a: rest(x.title) }, completed: x.status === 'completed', cancelled: false };
  return { fields: { a: rest(x.subject), b: text((x.location as { displayName?: unknown } | undefined)?.displayName) }, completed: false, cancelled: x.isCancelled === true };
}

/** Which fields of a kind the model compares. */
export const comparedFields = (kind: Kind, copy?: CopyState): (keyof Fields)[] => (kind === 'task' || copy?.role === 'attendee' || (copy?.role === 'left' && copy.cancelledOrGone) ? ['a'] : ['a', 'b']);
