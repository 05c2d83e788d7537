// The operations of the chaos test as fast-check commands: people on both sides, faults, crashes, settling. Each
// command checks the model (is there an item it can act on?), acts through the World, and updates the model only
// for what really happened. The first arbitrary of the union is the no-op, so fast-check's shrinker turns the
// commands a failure does not need into no-ops and the counterexample keeps only those it does.
import fc from 'fast-check';
import { seriesOccurrenceViolations } from './check.js';
import * as m from './model.js';
import type { World } from './world.js';

const kinds = m.kinds;
const user = fc.constantFrom<m.UserKey>('alice', 'bob');
const value = fc.constantFrom('red', 'green', 'blue', 'amber', 'teal', 'plum', 'sand', 'jade');
const field = fc.constantFrom<keyof m.Fields>('a', 'b');
const faults = ['gNotify', 'dvHooks', 'gThrottle', 'dvThrottle', 'gErrors', 'dvErrors', 'dvErrorsAfter', 'gSubs', 'gDelta', 'dvTokens', 'calm'] as const;

export type Op =
  | { t: 'noop' }
  | { t: 'createD'; kind: m.Kind; owner: m.UserKey; a: string; b: string; day: number; attendee: boolean; table: m.TaskTable }
  | { t: 'createO'; kind: m.Kind; owner: m.UserKey; a: string; b: string; day: number; track: boolean }
  | { t: 'editD' | 'editO'; pick: number; field: keyof m.Fields; v: string }
  | { t: 'hot'; pick: number; v1: string; v2: string }
  | { t: 'editClosedO'; pick: number; v: string }
  | { t: 'occEditD' | 'occEditO'; pick: number; n: number; v: string }
  | { t: 'occCancelD' | 'occCancelO'; pick: number; n: number }
  | { t: 'occMoveD' | 'occMoveO'; pick: number; n: number; h: number }
  | { t: 'completeD' | 'completeO' | 'deleteD' | 'deleteO' | 'track' | 'reassign' | 'attend' | 'unattend'; pick: number }
  | { t: 'mailIn'; to: m.UserKey | 'both'; track: boolean }
  | { t: 'mailTrack'; pick: number }
  | { t: 'mailSend'; from: m.UserKey }
  | { t: 'fault'; which: (typeof faults)[number] }
  | { t: 'crash'; afterWrite: boolean }
  | { t: 'reconcile' }
  | { t: 'settle' };

export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.constant<Op>({ t: 'noop' }), weight: 1 },
  { arbitrary: fc.record({ t: fc.constant('createD' as const), kind: fc.constantFrom(...kinds), owner: user, a: value, b: value, day: fc.integer({ min: 2, max: 30 }), attendee: fc.boolean(), table: fc.constantFrom(...m.taskTables) }), weight: 8 },
  { arbitrary: fc.record({ t: fc.constant('createO' as const), kind: fc.constantFrom(...kinds), owner: user, a: value, b: value, day: fc.integer({ min: 2, max: 30 }), track: fc.boolean() }), weight: 6 },
  { arbitrary: fc.record({ t: fc.constantFrom('editD' as const, 'editO' as const), pick: fc.nat(), field, v: value }), weight: 14 },
  { arbitrary: fc.record({ t: fc.constant('hot' as const), pick: fc.nat(), v1: value, v2: value }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('editClosedO' as const), pick: fc.nat(), v: value }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constantFrom('occEditD' as const, 'occEditO' as const), pick: fc.nat(), n: fc.integer({ min: 0, max: 2 }), v: value }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constantFrom('occCancelD' as const, 'occCancelO' as const), pick: fc.nat(), n: fc.integer({ min: 0, max: 2 }) }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constantFrom('occMoveD' as const, 'occMoveO' as const), pick: fc.nat(), n: fc.integer({ min: 0, max: 2 }), h: fc.integer({ min: 1, max: 3 }) }), weight: 2 },
  {
    arbitrary: fc.record({ t: fc.constantFrom('completeD' as const, 'completeO' as const, 'deleteD' as const, 'deleteO' as const, 'track' as const, 'reassign' as const, 'attend' as const, 'unattend' as const), pick: fc.nat() }),
    weight: 12,
  },
  { arbitrary: fc.record({ t: fc.constant('mailIn' as const), to: fc.constantFrom<m.UserKey | 'both'>('alice', 'bob', 'both'), track: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({ t: fc.constant('mailTrack' as const), pick: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('mailSend' as const), from: user }), weight: 2 },
  { arbitrary: fc.record({ t: fc.constant('fault' as const), which: fc.constantFrom(...faults) }), weight: 4 },
  { arbitrary: fc.record({ t: fc.constant('crash' as const), afterWrite: fc.boolean() }), weight: 1 },
  { arbitrary: fc.constant<Op>({ t: 'reconcile' }), weight: 1 },
  { arbitrary: fc.constant<Op>({ t: 'settle' }), weight: 6 },
);

/** The incoming mail a mailTrack acts on (one a recipient has not tracked yet), or undefined when none fits. */
function mailTarget(model: Readonly<m.Model>, op: Op): m.MailModel | undefined {
  if (op.t !== 'mailTrack') return undefined;
  return m.pick(model.mails.filter((mail) => mail.direction === 'in' && m.untrackedRecipients(mail).length > 0), op.pick);
}

/** A tracked series an occurrence operation may act on: nothing of its subject or occurrences waits to be synced. */
const seriesSettled = (i: m.ItemModel): boolean => i.tracked && i.d365.exists && i.unsynced.a === undefined && !i.occurrencesUnsure;

/** The item an operation on `pick` acts on, or undefined when none fits. */
function target(model: Readonly<m.Model>, op: Op): m.ItemModel | undefined {
  if (!('pick' in op) || op.t === 'mailTrack') return undefined;
  const open = (i: m.ItemModel) => !i.d365.completed;
  switch (op.t) {
    case 'editD':
      return m.pick(m.candidates(model, kinds, (i) => i.tracked && open(i) && (i.kind !== 'task' || op.field === 'a')), op.pick);
    case 'editO':
      return m.pick(m.candidates(model, kinds, (i) => open(i) && (i.kind !== 'task' || op.field === 'a')), op.pick);
    case 'hot':
      return m.pick(m.candidates(model, kinds, (i) => i.tracked && open(i)), op.pick);
    case 'occEditD':
    case 'occEditO':
      // A tracked series whose subject has no edit the sync has not shown on both sides yet (its change could reach
      // the occurrence after the exception was made) and whose last occurrence operation the last settle showed
      // (model.ts occurrencesUnsure), and an occurrence not cancelled nor moved (an exception is renamed or moved).
      return m.pick(m.candidates(model, ['series'], (i) => seriesSettled(i) && !i.cancelled?.includes(op.n) && i.moved?.[op.n] === undefined), op.pick);
    case 'occCancelD':
    case 'occCancelO':
      // As for an edit, and an occurrence with no edit of its own: an edit on one side met by a cancellation on the
      // other before either was synced is a conflict no rule of the sync names.
      return m.pick(m.candidates(model, ['series'], (i) => seriesSettled(i) && !i.cancelled?.includes(op.n) && i.occurrences?.[op.n] === undefined), op.pick);
    case 'occMoveD':
    case 'occMoveO':
      // As for an edit, and an occurrence whose subject has no edit of its own (model.ts ItemModel.moved).
      return m.pick(m.candidates(model, ['series'], (i) => seriesSettled(i) && !i.cancelled?.includes(op.n) && i.occurrences?.[op.n] === undefined), op.pick);
    case 'editClosedO':
      // A task the last settle showed completed on both sides: its To Do edit meets a closed activity.
      return m.pick(m.candidates(model, ['task'], (i) => i.tracked && i.closedOnBoth === true), op.pick);
    case 'completeD':
    case 'completeO':
      return m.pick(m.candidates(model, ['task'], (i) => i.tracked && open(i)), op.pick);
    case 'deleteD':
      return m.pick(m.candidates(model, kinds, (i) => i.tracked), op.pick);
    case 'deleteO':
      return m.pick(m.candidates(model, kinds), op.pick);
    case 'track':
      return m.pick(m.candidates(model, kinds, (i) => !i.tracked), op.pick);
    case 'reassign':
      return m.pick(m.candidates(model, ['task', 'contact'], (i) => i.tracked && open(i) && !i.reassigned), op.pick);
    case 'attend':
      return m.pick(m.candidates(model, ['appointment'], (i) => i.tracked && !i.attendee && !i.copies.some((c) => c.role !== 'owner')), op.pick);
    case 'unattend':
      return m.pick(m.candidates(model, ['appointment'], (i) => i.tracked && i.attendee !== undefined), op.pick);
  }
}

export class ChaosCommand implements fc.AsyncCommand<m.Model, World> {
  constructor(
    readonly op: Op,
    readonly keyPrefix: string,
  ) {}

  check(model: Readonly<m.Model>): boolean {
    const op = this.op;
    if (op.t === 'noop') return false;
    if (op.t === 'crash') return model.crashes < model.maxCrashes;
    if (op.t === 'mailTrack') return mailTarget(model, op) !== undefined;
    if ('pick' in op) return target(model, op) !== undefined;
    return true;
  }

  async run(model: m.Model, world: World): Promise<void> {
    // Timed, so a run that outlives its budget can say which operation it was in and which ones were slow.
    world.begin(this.toString());
    try {
      await this.act(model, world);
    } finally {
      world.end();
    }
  }

  private async act(model: m.Model, world: World): Promise<void> {
    const op = this.op;
    const item = target(model, op);
    const touch = (i: m.ItemModel): void => void model.touched.add(i.key);
    world.note(this.toString() + (item ? ` -> ${item.key}` : ''));
    switch (op.t) {
      case 'createD': {
        const key = `${this.keyPrefix}${(model.next += 1)}`;
        world.note(`  created ${key}`);
        // Only a meeting has attendees; the other kinds sync to their owner's mailbox alone.
        const attendee = op.kind === 'appointment' && op.attendee ? m.other(op.owner) : undefined;
        // A task item lives in one of the four task tables (a phone call, letter or fax syncs as a To Do task too).
        world.createInDynamics(key, op.kind, op.owner, { a: op.a, b: op.kind === 'task' ? '' : op.b }, op.day, attendee, op.table);
        const item = m.createdInDynamics(key, op.kind, op.owner, { a: op.a, b: op.kind === 'task' ? '' : op.b }, attendee, op.table);
        model.items.push(item);
        return touch(item);
      }
      case 'createO': {
        const key = `${this.keyPrefix}${(model.next += 1)}`;
        world.note(`  created ${key}`);
        await world.createInOutlook(key, op.kind, op.owner, { a: op.a, b: op.kind === 'task' ? '' : op.b }, op.day, op.track);
        const item = m.createdInOutlook(key, op.kind, op.owner, { a: op.a, b: op.kind === 'task' ? '' : op.b }, op.track);
        model.items.push(item);
        return touch(item);
      }
      case 'editD':
        if (world.editInDynamics(item!, op.field, op.v)) {
          m.edited(item!, op.field, op.v, 'd365');
          touch(item!);
        }
        return;
      case 'editO':
        if (await world.editInOutlook(item!, op.field, op.v)) {
          m.edited(item!, op.field, op.v, 'outlook');
          touch(item!);
        }
        return;
      case 'occEditD':
      case 'occEditO':
        if (await world.editOccurrence(item!, op.t === 'occEditD' ? 'd365' : 'outlook', op.n, op.v)) {
          m.occurrenceEdited(item!, op.n, op.v);
          touch(item!);
        }
        return;
      case 'occCancelD':
      case 'occCancelO':
        if (await world.cancelOccurrence(item!, op.t === 'occCancelD' ? 'd365' : 'outlook', op.n)) {
          m.occurrenceCancelled(item!, op.n);
          touch(item!);
        }
        return;
      case 'occMoveD':
      case 'occMoveO':
        if (await world.moveOccurrence(item!, op.t === 'occMoveD' ? 'd365' : 'outlook', op.n, op.h)) {
          m.occurrenceMoved(item!, op.n, op.h);
          touch(item!);
        }
        return;
      case 'editClosedO':
        if (await world.editInOutlook(item!, 'a', op.v)) {
          m.editedClosedInOutlook(item!, op.v);
          touch(item!);
        }
        return;
      case 'hot': {
        // The same item changed on both sides before the sync saw either: different fields, so both must survive
        // the merge (a task: its subject in Dynamics 365 while it is completed in To Do).
        const i = item!;
        const ids = world.ids.get(i.key);
        if (!ids?.d365 || !ids.copies[i.owner]) return;
        world.editInDynamics(i, 'a', op.v1);
        m.edited(i, 'a', op.v1, 'd365');
        if (i.kind === 'task') {
          await world.completeInOutlook(i);
          m.completed(i, 'outlook');
        } else {
          await world.editInOutlook(i, 'b', op.v2);
          m.edited(i, 'b', op.v2, 'outlook');
        }
        return touch(i);
      }
      case 'completeD':
        if (world.completeInDynamics(item!)) {
          m.completed(item!, 'd365');
          touch(item!);
        }
        return;
      case 'completeO':
        if (await world.completeInOutlook(item!)) {
          m.completed(item!, 'outlook');
          touch(item!);
        }
        return;
      case 'deleteD': {
        // Whether the owner's copy was seen at the last settle (World.refresh): a copy never made stays never made.
        const seen = world.ids.get(item!.key)?.copies[item!.owner] !== undefined;
        const completedSeen = world.ids.get(item!.key)?.ownerCopyCompleted === true;
        if (world.deleteInDynamics(item!)) {
          m.deletedInDynamics(item!, seen, completedSeen);
          touch(item!);
        }
        return;
      }
      case 'deleteO':
        if (await world.deleteInOutlook(item!)) {
          m.deletedInOutlook(item!, world.ids.get(item!.key)?.recordCompleted === true);
          touch(item!);
        }
        return;
      case 'track':
        if (await world.track(item!)) {
          m.tracked(item!);
          touch(item!);
        }
        return;
      case 'reassign': {
        // Whether the old owner's copy was seen at the last settle (World.refresh), before reassign forgets it.
        const seen = world.ids.get(item!.key)?.copies[item!.owner] !== undefined;
        if (world.reassign(item!, m.other(item!.owner))) {
          m.reassigned(item!, seen);
          touch(item!);
        }
        return;
      }
      case 'attend': {
        const who = m.other(item!.owner);
        if (await world.setAttendees(item!, who)) {
          m.attendeeAdded(item!, who);
          touch(item!);
        }
        return;
      }
      case 'unattend':
        if (await world.setAttendees(item!, undefined)) {
          m.attendeeRemoved(item!);
          touch(item!);
        }
        return;
      case 'mailIn': {
        const key = `${this.keyPrefix}${(model.next += 1)}`;
        world.note(`  created ${key}`);
        const recipients: m.UserKey[] = op.to === 'both' ? ['alice', 'bob'] : [op.to];
        // Tracked at once by the first recipient only; the others may track their copy later (mailTrack).
        const trackedBy = op.track ? recipients.slice(0, 1) : [];
        await world.receiveMail(key, recipients, trackedBy);
        model.mails.push(m.mailReceived(key, recipients, trackedBy));
        return;
      }
      case 'mailTrack': {
        const mail = mailTarget(model, op)!;
        const by = m.untrackedRecipients(mail)[0]!;
        world.note(`  ${mail.key} tracked by ${by}`);
        if (await world.trackMail(mail, by)) m.mailTracked(mail, by);
        return;
      }
      case 'mailSend': {
        const key = `${this.keyPrefix}${(model.next += 1)}`;
        world.note(`  created ${key}`);
        world.sendMail(key, op.from);
        model.mails.push(m.mailSent(key, op.from));
        return;
      }
      case 'fault':
        return applyFault(world, op.which);
      case 'crash':
        model.crashes += 1;
        return world.crash(op.afterWrite);
      case 'reconcile':
        return world.stack.host.fireTimer('reconcile');
      case 'settle': {
        await world.settle();
        await world.refresh(model, this.keyPrefix);
        // A series whose occurrences both sides now hold as the model says has its last occurrence operation synced.
        const unsure = (i: m.ItemModel) => i.occurrencesUnsure === true;
        const seen = await world.occurrences(model, unsure);
        for (const item of model.items.filter(unsure)) {
          const got = seen.get(item.key);
          // No occurrence facts left (a later edit of the series' subject dropped its renamed ones): nothing to wait for.
          if (!m.hasOccurrenceFacts(item) || (got?.outlook && seriesOccurrenceViolations(item, got).length === 0)) item.occurrencesUnsure = false;
        }
        model.touched.clear();
        return;
      }
      case 'noop':
        return;
    }
  }

  toString(): string {
    return JSON.stringify(this.op);
  }
}

async function applyFault(world: World, which: (typeof faults)[number]): Promise<void> {
  const g = world.graphPlan;
  const d = world.dataversePlan;
  switch (which) {
    case 'gNotify':
      g.notifications = { drop: 0.2, duplicate: 0.3, delay: 0.3, delayMs: { min: 5, max: 150 }, reorder: 0.5 };
      break;
    case 'dvHooks':
      d.webhooks = { dropProbability: 0.2, duplicateProbability: 0.3, delay: { probability: 0.3, ms: 100 }, reorderProbability: 0.3 };
      break;
    case 'gThrottle':
      g.throttleBursts = { probability: 0.05, length: 4, retryAfterSeconds: 1 };
      break;
    case 'dvThrottle':
      d.requests = { ...d.requests, throttle: { probability: 0.05, burst: 4, retryAfterSeconds: 1 } };
      break;
    case 'gErrors':
      g.serverErrors = { probability: 0.1, afterExecution: 0.5 };
      break;
    case 'dvErrors':
      d.requests = { ...d.requests, serverError: { probability: 0.1 } };
      break;
    case 'dvErrorsAfter':
      d.requests = { ...d.requests, serverError: { probability: 0.1, afterExecution: true } };
      break;
    case 'gSubs':
      g.subscriptionRemoval = 0.3;
      break;
    case 'gDelta':
      g.deltaTokenEviction = 0.2;
      await world.stack.graph.admin.evictDeltaTokens();
      break;
    case 'dvTokens':
      world.stack.dataverse.admin.expireChangeTrackingTokens();
      break;
    case 'calm':
      world.graphPlan = {};
      world.dataversePlan = {};
      break;
  }
  await world.applyFaults();
}
