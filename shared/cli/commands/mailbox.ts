// `mailbox enable|disable|list`: onboarding through shared/onboarding/mailbox.ts, and a dry run that reads the same
// state enableMailbox reads and says what it would change, writing nothing.
import { SyncError } from '../../errors.js';
import { planBackfill, runBackfill, summarizePlan, type BackfillPlan, type PlanEntry } from '../../onboarding/backfill.js';
import { disableMailbox, enableMailbox, ianaTimeZone } from '../../onboarding/mailbox.js';
import { maskedNotificationUrl } from '../../sync/subscriptions.js';
import type { Runtime } from '../../runtime.js';
import { syncedEntities, type Mailbox } from '../../storage/mailboxStore.js';
import type { CommandSpec } from '../command.js';
import { UsageError } from '../env.js';
import { formatTable } from '../format.js';

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

/** The subscriptions enableMailbox keeps per mailbox (shared/onboarding/mailbox.ts). */
const subscriptionKinds = ['events', 'contacts'] as const;

/** What enabling would do, from the same reads enableMailbox makes; nothing is written. */
export async function planEnable(rt: Runtime, upnOrId: string, entities: Entity[] | undefined): Promise<string[]> {
  await rt.ready();
  const plan: string[] = [];
  const user = await rt.graph.getUser(upnOrId);
  if (!user.id || !user.userPrincipalName) throw new SyncError('NotFound', `no user ${upnOrId} in the tenant`);
  const address = user.mail ?? user.userPrincipalName;
  const timeZone = ianaTimeZone(await rt.graph.getMailboxTimeZone(user.id));
  const byObjectId = await rt.dataverse.query('systemuser', { filter: `azureactivedirectoryobjectid eq ${user.id}`, select: ['systemuserid'], top: 1 });
  const found = byObjectId.length
    ? byObjectId
    : await rt.dataverse.query('systemuser', { filter: `internalemailaddress eq '${address.replace(/'/g, "''")}'`, select: ['systemuserid'], top: 1 });
  const systemUserId = found[0]?.systemuserid;
  if (typeof systemUserId !== 'string') throw new SyncError('NotFound', `no Dataverse user for ${user.userPrincipalName} (by Entra object id or e-mail address)`);
  plan.push(`user ${user.userPrincipalName}: Entra object id ${user.id}, Dataverse systemuserid ${systemUserId.toLowerCase()}, time zone ${timeZone}`);
  const now = rt.now().getTime();
  const subscriptions = await rt.subscriptions.list(user.id);
  for (const kind of subscriptionKinds) {
    const current = subscriptions.find((s) => s.resourceKind === kind && Date.parse(s.expirationDateTime) > now);
    plan.push(
      current
        ? `would keep subscription ${kind} ${current.id} (expires ${current.expirationDateTime})`
        : `would create subscription ${kind} on /users/${user.id}/${kind} -> ${maskedNotificationUrl(rt)}`,
    );
  }
  const existing = await rt.mailboxes.get(user.id);
  const target = entities ?? existing?.entities ?? [...syncedEntities];
  if (!existing) plan.push(`would register mailbox ${user.userPrincipalName} (entities ${target.join(',')}, state active)`);
  else {
    const entityChange = existing.entities.join(',') === target.join(',') ? '' : `, entities ${existing.entities.join(',')} -> ${target.join(',')}`;
    plan.push(`would update mailbox ${user.userPrincipalName} (${existing.state} -> active${entityChange})`);
  }
  const candidate: Mailbox = {
    id: user.id,
    userPrincipalName: user.userPrincipalName,
    address,
    systemUserId: systemUserId.toLowerCase(),
    timeZone,
    entities: target,
    state: 'active',
    ...(existing?.defaultTodoListId ? { defaultTodoListId: existing.defaultTodoListId } : {}),
  };
  plan.push(...describeBackfill(await planBackfill(rt, candidate), 'would'));
  return plan;
}

const listNames: Record<keyof BackfillPlan, string> = {
  link: 'link',
  createInExchange: 'create in Exchange',
  createInDataverse: 'create in Dataverse',
  update: 'update',
  leave: 'leave as they are',
};
const shownPerList = 20;

function describeEntry(entry: PlanEntry): string {
  const dv = entry.dataverseId ? `${entry.dataverseEntity ?? entry.kind} ${entry.dataverseId}` : undefined;
  const ex = entry.exchangeId ? `${entry.exchangeResource ?? entry.kind} ${entry.exchangeId}` : undefined;
  return `${[dv, ex].filter(Boolean).join(' <-> ')} (${entry.reason})`;
}

/** The backfill plan as lines: counts, then the entries of each list (the first few of a long one). */
export function describeBackfill(plan: BackfillPlan, verb: 'would' | 'will'): string[] {
  const counts = summarizePlan(plan);
  const lines = [`backfill ${verb}: ${(Object.keys(listNames) as (keyof BackfillPlan)[]).map((k) => `${counts[k]} ${listNames[k]}`).join(', ')}`];
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
  usage: '<upn> [--dry-run] [--entities appointment,task,contact]',
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
    '                            (default: as registered, else all)',
  ].join('\n'),
  options: { 'dry-run': { type: 'boolean' }, entities: { type: 'string' }, 'skip-backfill': { type: 'boolean' } },
  positionals: { min: 1, max: 1, names: '<upn>' },
  async run(ctx, values, [upn]) {
    const entities = parseEntities(values.entities as string | undefined);
    const rt = await ctx.runtime();
    if (values['dry-run']) {
      ctx.out(`Dry run: nothing is changed.`);
      for (const line of await planEnable(rt, upn!, entities)) ctx.out(`  ${line}`);
      return;
    }
    const result = await enableMailbox(rt, upn!, entities ? { entities } : {});
    for (const change of result.changes) ctx.out(`  ${change}`);
    if (!values['skip-backfill']) {
      const backfill = await runBackfill(rt, result.mailbox, {
        onProgress: (p) => ctx.progress(`backfill ${p.enqueued}/${p.total} changes enqueued`),
      });
      const c = backfill.counts;
      ctx.out(
        `  backfill: ${c.link} to link, ${c.createInExchange} to create in Exchange, ${c.createInDataverse} to create in Dataverse, ${c.update} to update, ${c.leave} left as they are; ${backfill.enqueued} change(s) enqueued${backfill.resumed ? ` (${backfill.resumed} enqueued by an earlier run)` : ''}`,
      );
    }
    ctx.out(`mailbox ${result.mailbox.userPrincipalName} is active (entities ${result.mailbox.entities.join(',')}, time zone ${result.mailbox.timeZone})`);
  },
};

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
    const key = upn!.toLowerCase();
    const mailbox = (await rt.mailboxes.list({ fresh: true })).find((m) => m.id.toLowerCase() === key || m.userPrincipalName.toLowerCase() === key);
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
    const mailboxes = await rt.mailboxes.list({ fresh: true });
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
