// Model-based chaos test (issue 17): random operations by people on both sides, of every kind, while the
// simulators drop, duplicate, delay and reorder notifications and webhooks, throttle, fail before and after the
// write, remove subscriptions and evict delta and change-tracking tokens, and the host process is SIGKILLed (also
// right after a service took a write, before the host stored the pair). After quiescence and one reconciliation the
// simulators' state must be what the model says (check.ts), nothing may be written during a quiet period after it
// (no ping-pong), and the dead-letter queues hold only what the rules reject, judged by the reason the worker
// recorded (check.ts `deadLetterViolations`; none of the operations here is one they reject).
//
// CHAOS_SEEDS (runs), CHAOS_OPS (operations per run), CHAOS_CRASHES (host kills per run, default 1), CHAOS_LANES (runs
// at once, each on a stack of its own, default 1: a run spends most of its time waiting on retries and lock expiries,
// which another run's work fills; a lane costs about 550 MB, and every lane's simulators share this process, so on a
// loaded machine its 10 s locks may lapse: see the README), CHAOS_SEED
// (the first seed, default 1), CHAOS_REPLAY ("seed:path" as a failure prints it: that run only), CHAOS_SHRINK=1
// (shrink a failure to its minimal commands; slow: every step replays against the stack), CHAOS_STRICT=1 (a known
// finding fails the run; the default of npm run test:chaos, CHAOS_STRICT=0 turns it off there), CHAOS_LOG=<file> (append
// the host's log lines and each operation's length there), CHAOS_BUDGET_S (a run's budget in seconds, default
// 300 + 6 per operation: past it the run fails saying where it was). A failure is a
// real system's timing: a replay re-runs the same operations and faults, not necessarily the same interleaving.
import { appendFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../../dev/stack/index.js';
import type { HandledRequest } from '../../dev/sim/graph/index.js';
import { main } from '../../shared/cli/main.js';
import { queues } from '../../shared/servicebus/queues.js';
import { deadLetterScope, type DeadLetterRecord } from '../../shared/sync/worker.js';
import { deadLetterViolations, knownFindings, occurrenceViolations, violations, type DeadLetter, type Violation } from './check.js';
import { ChaosCommand, opArbitrary } from './commands.js';
import { newModel } from './model.js';
import { World } from './world.js';

const env = (name: string, fallback: number) => {
  const v = process.env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not '${v}'`);
  return n;
};
// `npm run test:chaos` is the full run (10 x 200, known findings fail); inside `npm test` the defaults fit the
// suite's time budget (3 x 100: a 200-operation run costs 16-97 s on the loaded 2-core machine, 10 x 200 about 9 minutes).
const full = process.env.npm_lifecycle_event === 'test:chaos';
const seeds = env('CHAOS_SEEDS', full ? 10 : 3);
const ops = env('CHAOS_OPS', full ? 200 : 100);
const crashes = env('CHAOS_CRASHES', 1);
const lanes = Math.max(1, env('CHAOS_LANES', 1));
const firstSeed = env('CHAOS_SEED', 1);
const shrink = process.env.CHAOS_SHRINK === '1';
const strict = process.env.CHAOS_STRICT === '1' || (full && process.env.CHAOS_STRICT !== '0');
const replay = /^(-?\d+):([\d:]*)$/.exec(process.env.CHAOS_REPLAY ?? '');
if (process.env.CHAOS_REPLAY && !replay) throw new Error(`CHAOS_REPLAY must be "seed:path" as a failure prints it, not '${process.env.CHAOS_REPLAY}'`);
// A run's budget grows with its operations (the test's timeout was a flat 900 s, which a 200-operation run outlived
// with no word of where it was): every operation may settle after a host kill, which waits out the killed host's
// locks (a minute) and the claims' back-off. The watchdog fires before vitest's timeout, so a run that outlives it
// fails with where it was (World.progress) and what still waits in the queues, instead of vitest's bare timeout.
const runBudgetMs = env('CHAOS_BUDGET_S', 300 + ops * 6) * 1000;
// CHAOS_LOG=<file>: the host's log lines (ids and codes, never contents) and each operation's length, one JSON object a line.
const logFile = process.env.CHAOS_LOG;
const runs = replay ? [Number(replay[1])] : Array.from({ length: seeds }, (_, i) => firstSeed + i);

const users = [
  { key: 'alice', userPrincipalName: 'alice@contoso.example', displayName: 'Alice Adams', timeZone: 'W. Europe Standard Time' },
  { key: 'bob', userPrincipalName: 'bob@contoso.example', displayName: 'Bob Brown', timeZone: 'Eastern Standard Time' },
];

describe('chaos', () => {
  // One stack per lane; a run takes a free one and gives it back, so no two runs share a stack (the faults, the
  // host kills and the quiet period are a stack's, not a run's).
  const stacks: Stack[] = [];
  const free: Stack[] = [];
  const waiting: ((stack: Stack) => void)[] = [];
  const acquire = () => new Promise<Stack>((resolve) => (free.length > 0 ? resolve(free.pop()!) : waiting.push(resolve)));
  const release = (stack: Stack) => (waiting.length > 0 ? waiting.shift()!(stack) : free.push(stack));
  let attempt = 0;
  const startChaosStack = async (): Promise<Stack> => {
    // The attendee's copy of a shared meeting must be linked to the same appointment: both users are synced.
    const logSink = logFile ? (level: string, message: string, props: Record<string, unknown>) => appendFileSync(logFile, `${JSON.stringify({ t: new Date().toISOString(), level, message, ...props })}\n`) : undefined;
    // Graph retries a notification batch not answered 2xx for about four hours
    // (https://learn.microsoft.com/graph/change-notifications-delivery-webhooks), and the host answers 401 to one whose
    // subscription it no longer knows (one the gSubs fault removed and the sync replaced): every settle would wait
    // those four hours out. 12 s of retries (1, 2 and 4 s apart) still carry a notification across a host kill and
    // restart (3-5 s here); what Graph gives up on is what reconciliation repairs. With 30 s, one run (seed 9 x 200)
    // spent 400 of its 457 s in settles waiting out refused batches of subscriptions the gSubs fault had replaced.
    // A killed host's messages come back when their locks expire: with the deployed PT1M, each kill cost a run about
    // a minute of waiting (57 of seed 1's 100 s at 100 operations); 10 s locks keep the crash semantics.
    // Email is enabled on both mailboxes (mailbox enable --email), which needs their Dataverse mailbox rows to leave
    // email to the sync (delivery methods None, as test/e2e/email.test.ts sets them).
    const email = { entities: ['appointment', 'task', 'contact', 'email'] as const, dataverseEmail: { mailboxDefaults: { incomingemaildeliverymethod: 0, outgoingemaildeliverymethod: 0, actdeliverymethod: 2 } } as const };
    const stack = await startStack({ seed: 1717, users, hostInChild: true, entities: [...email.entities], dataverseEmail: email.dataverseEmail, queueLockDuration: 'PT10S', graphNotifications: { retryForMs: 12_000 }, ...(logSink ? { logSink } : {}) });
    // The mass-delete breaker has its own tests (test/e2e/breaker.test.ts); here a run's deletes are people's, so
    // its limits are set past what a run does, and inferred deletes of a resync (a delta token evicted) go through.
    const settings = { minDeletes: '100000', deleteCap: '100000', inferredDeleteCap: '100000', createCap: '100000', holdResyncInferredDeletes: 'false', emptyListingHolds: 'false' };
    for (const [limit, value] of Object.entries(settings)) {
      let stderr = '';
      const code = await main(['config', 'set', `breaker.${limit}`, value], { stdout: () => undefined, stderr: (t) => void (stderr += t), env: { ...stack.env, USER: 'chaos-test' } });
      if (code !== 0) throw new Error(`config set breaker.${limit} failed: ${stderr}`);
    }
    return stack;
  };
  // No more stacks than runs.
  const laneCount = Math.min(lanes, runs.length);
  beforeAll(async () => {
    for (const stack of await Promise.all(Array.from({ length: laneCount }, startChaosStack))) {
      stacks.push(stack);
      free.push(stack);
    }
  }, 180_000 * laneCount);
  afterAll(async () => void (await Promise.all(stacks.map((s) => s.close()))));

  // With lanes, every run starts at once and waits for a free stack, so its timeout covers the runs before it.
  const runTimeoutMs = (runBudgetMs + 60_000) * Math.ceil(runs.length / laneCount);
  const test = laneCount > 1 ? it.concurrent : it;
  for (const seed of runs) {
    test(`seed ${seed}: ${ops} operations with faults and ${crashes} host kill(s) end with both sides as the model says`, async (ctx) => {
      const stack = await acquire();
      try {
        await runSeed(stack, seed, ctx);
      } finally {
        release(stack);
      }
    }, runTimeoutMs);
  }

  async function runSeed(stack: Stack, seed: number, ctx: { skip: (note?: string) => void }): Promise<void> {
    const started = Date.now();
    let lastTrail: string[] = [];
    let lastViolations: Violation[] = [];
    let summary = '';
    let world: World | undefined;
    const property = fc.asyncProperty(fc.array(opArbitrary, { minLength: ops, maxLength: ops }), async (list) => {
      // Every attempt (a shrink step replays) works on keys of its own, so earlier attempts' items are not its business.
      const keyPrefix = `C${seed}r${(attempt += 1)}n`;
      world = new World(stack);
      const w = world;
      if (logFile) w.onTiming = (t) => appendFileSync(logFile, `${JSON.stringify({ t: new Date().toISOString(), seed, chaos: t.index, op: t.op, ms: t.ms })}\n`);
      const model = newModel(crashes);
      const deadBefore = new Set((await deadLetterList(stack)).map((d) => `${d.queue}#${d.sequenceNumber}`));
      try {
        await fc.asyncModelRun(() => ({ model, real: w }), list.map((op) => new ChaosCommand(op, keyPrefix)));
        // Quiescence: faults off, the host up, everything delivered, then one reconciliation repairs what a
        // dropped notification or webhook hid.
        w.begin('quiescence');
        await w.clearFaults();
        await w.settle();
        await stack.host.fireTimer('reconcile');
        await w.settle();
        w.end();
        w.begin('quiet period');
        // The quiet period: another reconciliation and poll must find nothing to write.
        const writes: string[] = [];
        const onWrite = (r: HandledRequest) => {
          if (r.write && !/\/subscriptions/i.test(r.path)) writes.push(`${r.method} ${r.path}`);
        };
        stack.graph.requests.on('handled', onWrite);
        stack.dataverse.requests.on('handled', onWrite);
        try {
          await stack.host.fireTimer('reconcile');
          await world.settle();
        } finally {
          stack.graph.requests.off('handled', onWrite);
          stack.dataverse.requests.off('handled', onWrite);
        }
        w.end();
        const found = violations(model, await w.snapshot(keyPrefix));
        found.push(...occurrenceViolations(model, await w.occurrences(model)));
        if (writes.length > 0) found.push({ text: `the quiet period wrote ${writes.length} time(s): ${writes.slice(0, 5).join(', ')}` });
        found.push(...deadLetterViolations((await deadLetterList(stack)).filter((d) => !deadBefore.has(`${d.queue}#${d.sequenceNumber}`))));
        lastViolations = found;
        lastTrail = w.trail;
        const byKind = (k: string) => model.items.filter((i) => i.kind === k).length;
        summary = `${w.trail.length} acted, items ${model.items.length} (appointments ${byKind('appointment')}, series ${byKind('series')}, tasks ${byKind('task')}, contacts ${byKind('contact')}), mails ${model.mails.length} (${model.mails.filter((m) => m.direction === 'out').length} sent), ${model.crashes} kill(s)`;
        // Known findings alone do not fail the property (so shrinking looks for something new); they are
        // reported below, and skip the test with their names unless CHAOS_STRICT=1.
        return found.every((v) => v.finding !== undefined && !strict);
      } catch (error) {
        lastTrail = w.trail;
        lastViolations = [{ text: `the run failed: ${(error as Error).message}` }];
        return false;
      } finally {
        await w.clearFaults();
      }
    });
    let watchdog: NodeJS.Timeout | undefined;
    const outlived = new Promise<never>((_, reject) => {
      watchdog = setTimeout(() => reject(new Error(outlivedBudget(stack, seed, world))), runBudgetMs);
    });
    const result = await Promise.race([
      fc.check(property, {
        seed,
        numRuns: 1,
        endOnFailure: !shrink,
        ...(replay && replay[2] ? { path: replay[2] } : {}),
      }),
      outlived,
    ]).finally(() => clearTimeout(watchdog));
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.log(`[chaos] seed ${seed}: ${ops} operations (${summary}), ${result.failed ? 'FAILED' : 'passed'} in ${seconds} s`);
    if (result.failed) {
      const replayHint = `CHAOS_REPLAY=${result.seed}:${result.counterexamplePath ?? ''} CHAOS_OPS=${ops} npm run test:chaos`;
      const steps = (result.counterexample?.[0] ?? []).filter((op) => op.t !== 'noop').map((op) => JSON.stringify(op));
      const trailFile = join(tmpdir(), `chaos-seed-${seed}.log`);
      writeFileSync(trailFile, lastTrail.map((line, n) => `#${n} ${line}`).join('\n'));
      const named = new Set(lastViolations.flatMap((v) => v.text.match(/C\d+r\d+n\d+/g) ?? []));
      const history = [...named].flatMap((key) => [`history of ${key}:`, ...lastTrail.map((line, n) => `  #${n} ${line}`).filter((line) => line.includes(`${key}`) && new RegExp(`${key}(?!\\d)`).test(line))]);
      const report = [`seed ${result.seed}, replay: ${replayHint}`, 'violations:', ...lastViolations.map((v) => `  ${v.text}${v.finding ? ` [known finding: ${v.finding}]` : ''}`), `commands (${steps.length} not no-ops):`, ...steps.slice(0, 60).map((s) => `  ${s}`), ...history, `whole trail: ${trailFile}`].join('\n');
      // Written beside the trail as well: vitest prints a failure only when the whole file is done, which in a
      // long run (CHAOS_SEEDS=100) is hours after the seed failed.
      writeFileSync(join(tmpdir(), `chaos-seed-${seed}.failure.txt`), `${report}\n`);
      expect.fail(report);
    }
    const known = [...new Set(lastViolations.flatMap((v) => (v.finding ? [v.finding] : [])))];
    if (known.length > 0) {
      const lines = lastViolations.map((v) => `${v.text} [${v.finding}]`);
      console.warn(`[chaos] seed ${seed}: known findings ${known.join(', ')}:\n  ${lines.join('\n  ')}`);
      ctx.skip(`known findings, not fixed yet: ${known.map((k) => `${k} (${knownFindings[k]})`).join('; ')}`);
    }
  }
});

/** Why a run outlived its budget: where it was and, by id and properties only, what still waits in each queue. */
function outlivedBudget(stack: Stack, seed: number, world: World | undefined): string {
  const waiting = queues.flatMap((q) => stack.serviceBus.messages(q.name).map((m) => ({ queue: q.name, state: m.state, messageId: m.messageId, deliveryCount: m.deliveryCount, properties: m.applicationProperties })));
  const counts = Object.fromEntries(queues.map((q) => [q.name, stack.serviceBus.counts(q.name)]));
  return [
    `seed ${seed}: no result within ${runBudgetMs / 1000} s (CHAOS_OPS=${ops}; CHAOS_BUDGET_S raises it)`,
    world ? world.progress() : 'the run had not started',
    `queues: ${JSON.stringify(counts)}`,
    `waiting (${waiting.length}): ${JSON.stringify(waiting.slice(0, 10))}`,
  ].join('\n');
}

/**
 * Each dead letter of every queue, oldest first, joined by messageId with the reason the worker recorded (as
 * `npm run dlq -- list` joins them: shared/cli/commands/dlq.ts); Service Bus's own reason only where it recorded none.
 */
async function deadLetterList(stack: Stack): Promise<DeadLetter[]> {
  const records = new Map((await stack.runtime.cursors.list<DeadLetterRecord>(deadLetterScope)).map((r) => [r.name, r.value]));
  const text = (v: unknown) => (typeof v === 'string' ? v : '');
  return queues.flatMap(({ name: queue }) =>
    stack.serviceBus.messages(queue, 'deadLetter').map((m) => {
      const record = records.get(m.messageId);
      const props = m.applicationProperties ?? {};
      return record
        ? { queue, sequenceNumber: m.sequenceNumber, messageId: m.messageId, reason: record.reason, description: record.description, recorded: true }
        : { queue, sequenceNumber: m.sequenceNumber, messageId: m.messageId, reason: text(props.DeadLetterReason) || '(none)', description: text(props.DeadLetterErrorDescription), recorded: false };
    }),
  );
}
