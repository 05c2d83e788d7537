// `mailbox enable|disable|list`: onboarding through shared/onboarding/mailbox.ts. Enable reads, plans, then either
// prints the plan (--dry-run, writing nothing) or performs it, so the dry run says exactly what a real run does.
import { readFileSync } from 'node:fs';
import { backfillResumePoint, backfillWork, planBackfill, runBackfill, summarizePlan, type BackfillPlan, type PlanEntry } from '../../onboarding/backfill.js';
import { describeMailboxTest, lastMailboxTest, testBeforeEnable, testMailbox, type MailboxTest } from '../../onboarding/mailboxTest.js';
import { applyEnablePlan, describeEnableAction, describeEnableInputs, disableMailbox, planEnable, readEnableInputs } from '../../onboarding/mailbox.js';
import { syncedEntities, type Mailbox } from '../../storage/mailboxStore.js';
import { defaultKindNames, emailKinds, handlesEmail } from '../../sync/kinds/index.js';
import { notificationUrl } from '../../sync/subscriptions.js';
import type { CommandContext, CommandSpec, OptionValues } from '../command.js';
import { UsageError } from '../env.js';
import { formatTable } from '../format.js';
import type { Runtime } from '../../runtime.js';

type Entity = Mailbox['entities'][number];

/** Parses --entities: a comma-separated subset of appointment, task, contact. */
export function parseEntities(value: string | undefined): Entity[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError(`--entities needs at least one of ${syncedEntities.join(', ')}`);
  const unknown = names.filter((n) => !(syncedEntities as readonly string[]).includes(n));
  if (unknown.length) throw new UsageError(`--entities: ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not one of ${syncedEntities.join(', ')}`);
  return [...new Set(names)] as Entity[];
}

const listNames: Record<keyof BackfillPlan, string> = {
  link: 'link',
  createInExchange: 'create in Exchange',
  createInDataverse: 'create in Dataverse',
  update: 'update',
  leave: 'leave as they are',
};
const shownPerList = 20;
/** Mailboxes enabled at once by --from: default 4; each enable makes its Graph and Dataverse calls one after another. */
const defaultConcurrency = 4;
const maxConcurrency = 16;

function describeEntry(entry: PlanEntry): string {
  const dv = entry.dataverseId ? `${entry.dataverseEntity ?? entry.kind} ${entry.dataverseId}` : undefined;
  const ex = entry.exchangeId ? `${entry.exchangeResource ?? entry.kind} ${entry.exchangeId}` : undefined;
  return `${[dv, ex].filter(Boolean).join(' <-> ')} (${entry.reason})`;
}

/**
 * The backfill plan as lines: counts and how many changes a run enqueues (after a resume point: those left), then
 * the entries of each list (the first few of a long one). The dry run and a real run print the same lines.
 */
export function describeBackfill(plan: BackfillPlan, resumeAfter: string | undefined): string[] {
  const counts = summarizePlan(plan);
  const { work, todo } = backfillWork(plan, resumeAfter);
  const earlier = work.length - todo.length;
  const lines = [
    `backfill: ${(Object.keys(listNames) as (keyof BackfillPlan)[]).map((k) => `${counts[k]} ${listNames[k]}`).join(', ')}; ${todo.length} change(s) to enqueue${earlier ? ` (${earlier} enqueued by an earlier run)` : ''}`,
  ];
  for (const key of Object.keys(listNames) as (keyof BackfillPlan)[]) {
    if (key === 'leave') continue;
    for (const entry of plan[key].slice(0, shownPerList)) lines.push(`  ${listNames[key]}: ${describeEntry(entry)}`);
    if (plan[key].length > shownPerList) lines.push(`  ... and ${plan[key].length - shownPerList} more to ${listNames[key]}`);
  }
  return lines;
}

export const mailboxEnableCommand: CommandSpec = {
  name: 'mailbox enable',
  summary: 'Enable sync for a mailbox (Graph subscriptions and the registry row)',
  usage: '<upn> | --from <file> [--concurrency n] [--dry-run] [--entities appointment,task,contact] [--email [--take-over-email]]',
  help: [
    'Looks the user up in Entra (Graph) and Dataverse, reads the mailbox time zone, creates the Graph',
    'subscriptions (events, contacts) that do not exist or have expired, and registers the mailbox. Then backfills:',
    'Dataverse records in its scope and tracked Exchange items in the sync window are matched (stamped id, iCalUId,',
    'e-mail address) and queued for the worker, which links or creates them. Running it again keeps what exists',
    'and queues only what changed; an interrupted backfill resumes from its checkpoint.',
    '',
    'Options:',
    '  --dry-run                 print what enabling would change (subscriptions, registry, the backfill plan:',
    '                            what it would link, create on either side, update and leave), change nothing',
    '  --skip-backfill           register and subscribe only; changes flow from now on, existing items wait for',
    '                            the next reconciliation or a later `mailbox enable`',
    `  --entities <list>         what the mailbox syncs, comma-separated from ${syncedEntities.join(', ')}`,
    '                            (default: as registered, else every kind but email: email is opt-in)',
    '  --email                   also track and send the mailbox\'s email (adds email to the entities). Refused',
    '                            while server-side synchronization handles its incoming or outgoing email',
    '  --take-over-email         with --email: set the Dataverse mailbox\'s email delivery methods to None so',
    '                            server-side sync stops; the Dynamics 365 App for Outlook and folder-level',
    '                            tracking then stop working for this mailbox',
    '  --force                   enable although a check refuses (another engine syncs the mailbox); the override',
    '                            is stored with the operator (--operator, else the shell user)',
    '  --operator <name>         who enables, for the stored override',
    '  --from <file>             enable every mailbox the file names instead (one UPN or Entra object id a line;',
    '                            blank lines and # comments left out), each as above with the same options, its',
    '                            lines printed under its UPN once done; a failure does not stop the others, and',
    '                            the command ends with exit 1 naming the mailboxes that failed',
    `  --concurrency <n>         with --from: mailboxes enabled at once (default ${defaultConcurrency}, at most ${maxConcurrency})`,
    '',
    'Test & Enable: before anything is written, the checks of Dynamics 365\'s mailbox test run and are stored',
    '(Exchange: the mailbox, its time zone, the tracking category; Dynamics 365: the user is enabled and can be',
    'impersonated; no double engine: the user\'s Dataverse mailbox row must not have appointments, contacts and tasks',
    'delivered by server-side synchronization or Dynamics 365 for Outlook). A Failure stops the enable (exit 1).',
  ].join('\n'),
  options: { 'dry-run': { type: 'boolean' }, entities: { type: 'string' }, 'skip-backfill': { type: 'boolean' }, email: { type: 'boolean' }, 'take-over-email': { type: 'boolean' }, force: { type: 'boolean' }, operator: { type: 'string' }, from: { type: 'string' }, concurrency: { type: 'string' } },
  positionals: { min: 0, max: 1, names: '<upn>' },
  async run(ctx, values, [upn]) {
    const from = values.from as string | undefined;
    if (from !== undefined && upn !== undefined) throw new UsageError('give a <upn> or --from <file>, not both');
    if (from === undefined && upn === undefined) throw new UsageError('mailbox enable needs <upn> (or --from <file>)');
    // Usage is checked before the runtime is built (so a mistake needs no settings) and before any mailbox is touched.
    const entities = parseEntities(values.entities as string | undefined);
    if (values['take-over-email'] && !values.email && !handlesEmail(entities ?? [])) throw new UsageError('--take-over-email goes with --email');
    if (from === undefined) return enableOne(ctx, await ctx.runtime(), values, entities, upn!);
    return enableMany(ctx, values, entities, readUpnList(from), parseConcurrency(values.concurrency as string | undefined));
  },
};

/** One mailbox enabled (or its dry run), its lines printed through `ctx.out` as they come; `given` is --entities. */
async function enableOne(ctx: Pick<CommandContext, 'out' | 'progress' | 'env'>, rt: Runtime, values: OptionValues, given: Entity[] | undefined, upn: string): Promise<void> {
  let entities = given;
  // One plan for both modes: the dry run prints its actions, a real run performs exactly those and prints each
  // with what it did (after " => ").
  const inputs = await readEnableInputs(rt, upn);
  if (values.email) entities = [...new Set([...(entities ?? inputs.existing?.entities ?? defaultKindNames), ...emailKinds.map((k) => k.name)])];
  const plan = planEnable(inputs, { entities, now: rt.now(), notificationUrl: notificationUrl(rt), ...(values['take-over-email'] ? { takeOverEmail: true } : {}) });
  const backfill = !values['skip-backfill'];
  if (values['dry-run']) {
    ctx.out('Dry run: nothing is changed.');
    ctx.out(`  ${describeEnableInputs(inputs)}`);
    // The checks read only (the category is not added, nothing is stored); a Failure would refuse the real run.
    const results = await testMailbox(rt, inputs, { dryRun: true });
    for (const line of describeMailboxTest({ at: rt.now().toISOString(), userId: inputs.userId, results })) ctx.out(`  ${line}`);
    for (const action of plan.actions) ctx.out(`  would ${describeEnableAction(action)}`);
    if (backfill) {
      const [summary, ...entries] = describeBackfill(await planBackfill(rt, plan.mailbox), await backfillResumePoint(rt, plan.mailbox.id));
      ctx.out(`  would ${summary!}`);
      for (const line of entries) ctx.out(`  ${line}`);
    }
    return;
  }
  ctx.out(`  ${describeEnableInputs(inputs)}`);
  const operator = (values.operator as string | undefined) ?? ctx.env.USER ?? ctx.env.LOGNAME ?? ctx.env.USERNAME ?? 'unknown';
  let test: MailboxTest;
  try {
    test = await testBeforeEnable(rt, inputs, { force: values.force === true, operator });
  } catch (error) {
    const stored = await lastMailboxTest(rt, inputs.userId);
    if (stored) for (const line of describeMailboxTest(stored)) ctx.out(`  ${line}`);
    throw error;
  }
  for (const line of describeMailboxTest(test)) ctx.out(`  ${line}`);
  const result = await applyEnablePlan(rt, plan);
  for (const change of result.changes) ctx.out(`  ${change}`);
  if (backfill) {
    let lines: string[] = [];
    const run = await runBackfill(rt, result.mailbox, {
      onPlan: (backfillPlan, resumeAfter) => void (lines = describeBackfill(backfillPlan, resumeAfter)),
      onProgress: (p) => ctx.progress(`backfill ${p.enqueued}/${p.total} changes enqueued`),
    });
    const [summary, ...entries] = lines;
    ctx.out(`  ${summary!} => ${run.enqueued} change(s) enqueued`);
    for (const line of entries) ctx.out(`  ${line}`);
  }
  ctx.out(`mailbox ${result.mailbox.userPrincipalName} is active (entities ${result.mailbox.entities.join(',')}, time zone ${result.mailbox.timeZone})`);
}

/** The UPNs of a --from file: one a line; blank lines and lines starting with # are left out; each taken once. */
export function parseUpnList(text: string): string[] {
  const upns = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const bad = upns.find((u) => /\s/.test(u));
  if (bad !== undefined) throw new UsageError(`--from: one UPN or Entra object id a line, not '${bad}'`);
  const seen = new Set<string>();
  return upns.filter((u) => !seen.has(u.toLowerCase()) && (seen.add(u.toLowerCase()), true));
}

function readUpnList(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--from: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  const upns = parseUpnList(text);
  if (upns.length === 0) throw new UsageError(`--from: ${path} names no mailbox`);
  return upns;
}

export function parseConcurrency(value: string | undefined): number {
  if (value === undefined) return defaultConcurrency;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > maxConcurrency) throw new UsageError(`--concurrency takes a whole number from 1 to ${maxConcurrency}, not '${value}'`);
  return n;
}

/**
 * Enables every mailbox of a list, `concurrency` at once in one process (one token, one set of clients), as the
 * single enable does each: its checks, its plan and its backfill. Each mailbox's lines are printed together once it is
 * done, under its UPN; a mailbox that fails does not stop the others, and the command fails at the end (exit 1)
 * naming how many did. A process per mailbox (a shell loop over `mailbox enable`) pays for its start and its tokens
 * every time, which for thousands of mailboxes is hours.
 */
async function enableMany(ctx: CommandContext, values: OptionValues, entities: Entity[] | undefined, upns: readonly string[], concurrency: number): Promise<void> {
  const rt = await ctx.runtime();
  const failed: string[] = [];
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < upns.length) {
      const upn = upns[next++]!;
      const lines: string[] = [];
      try {
        await enableOne({ out: (line = '') => void lines.push(line), progress: () => undefined, env: ctx.env }, rt, values, entities, upn);
      } catch (error) {
        failed.push(upn);
        lines.push(`  failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      ctx.out(`== ${upn}`);
      for (const line of lines) ctx.out(line);
      ctx.progress(`mailbox enable: ${(done += 1)}/${upns.length} done, ${failed.length} failed`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, upns.length) }, worker));
  ctx.out(`${upns.length - failed.length} of ${upns.length} mailbox(es) ${values['dry-run'] ? 'planned' : 'enabled'}${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
  if (failed.length > 0) throw new Error(`${failed.length} of ${upns.length} mailbox(es) not ${values['dry-run'] ? 'planned' : 'enabled'} (see the lines under each)`);
}

export const mailboxDisableCommand: CommandSpec = {
  name: 'mailbox disable',
  summary: 'Disable sync for a mailbox (deletes its Graph subscriptions; pairs are kept)',
  usage: '<upn>',
  help: [
    'Deletes the mailbox\'s Graph subscriptions and marks it disabled. The pairs of synced items stay, so enabling',
    'it again links instead of duplicating. Running it on a disabled mailbox changes nothing.',
  ].join('\n'),
  options: {},
  positionals: { min: 1, max: 1, names: '<upn>' },
  async run(ctx, _values, [upn]) {
    const rt = await ctx.runtime();
    await rt.ready();
    const mailbox = await rt.mailboxes.find(upn!);
    if (mailbox?.state === 'disabled' && (await rt.subscriptions.list(mailbox.id)).length === 0) {
      ctx.out(`  mailbox ${mailbox.userPrincipalName} is already disabled; nothing changed`);
      return;
    }
    for (const change of await disableMailbox(rt, upn!)) ctx.out(`  ${change}`);
  },
};

export const mailboxListCommand: CommandSpec = {
  name: 'mailbox list',
  summary: 'List registered mailboxes with their state and subscriptions',
  usage: '',
  help: 'One row per registered mailbox: UPN, state and its reason, entities, and each Graph subscription with its expiry.',
  options: {},
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx) {
    const rt = await ctx.runtime();
    await rt.ready();
    const mailboxes = await rt.mailboxes.list();
    if (mailboxes.length === 0) {
      ctx.out('No mailbox is registered. Enable one with: mailbox enable <upn>');
      return;
    }
    const subscriptions = await rt.subscriptions.list();
    const rows = mailboxes
      .sort((a, b) => a.userPrincipalName.localeCompare(b.userPrincipalName))
      .map((m) => [
        m.userPrincipalName,
        m.state,
        m.stateReason ?? '',
        m.entities.join(','),
        subscriptions
          .filter((s) => s.mailboxId === m.id)
          .sort((a, b) => a.resourceKind.localeCompare(b.resourceKind))
          .map((s) => `${s.resourceKind} ${s.id} until ${s.expirationDateTime}`)
          .join('; ') || 'none',
      ]);
    ctx.out(formatTable(['UPN', 'STATE', 'REASON', 'ENTITIES', 'SUBSCRIPTIONS (EXPIRY)'], rows));
  },
};
