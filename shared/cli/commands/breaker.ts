// `breaker list|show|release|discard|restore`: the mass-delete breaker's scopes and their quarantine
// (shared/sync/breaker.ts for the rules, shared/sync/quarantine.ts for what each action does). Every action is
// written to the breaker's audit log with the operator's name (--operator, else the shell user).
import type { Runtime } from '../../runtime.js';
import { parseScopeName, scopeName, type BreakerScope } from '../../storage/breakerStore.js';
import { actOnHeld, type QuarantineAction } from '../../sync/quarantine.js';
import type { CommandContext, CommandSpec, OptionValues } from '../command.js';
import { UsageError } from '../env.js';
import { formatTable } from '../format.js';

const scopeHelp = [
  'A scope is <mailbox>/<kind>/<direction>: the mailbox by UPN or Entra object id, the kind (appointment, task,',
  'contact) and the direction the held writes go (toExchange, toDataverse), as `breaker list` prints it.',
].join('\n');

/** The scope named on the command line, with a UPN or address taken to the mailbox's id. */
async function scopeArg(rt: Runtime, text: string): Promise<BreakerScope> {
  let scope: BreakerScope;
  try {
    scope = parseScopeName(text);
  } catch (error) {
    throw new UsageError(`scope "${text}": ${(error as Error).message}`);
  }
  if (scope.mailboxId.includes('@')) {
    const mailbox = (await rt.mailboxes.list()).find((m) => m.userPrincipalName.toLowerCase() === scope.mailboxId || m.address.toLowerCase() === scope.mailboxId);
    if (!mailbox) throw new UsageError(`scope "${text}": no registered mailbox ${scope.mailboxId}`);
    scope = { ...scope, mailboxId: mailbox.id.toLowerCase() };
  }
  return scope;
}

export const breakerListCommand: CommandSpec = {
  name: 'breaker list',
  summary: 'List the mass-delete breaker scopes that hold writes or tripped, and the last operator actions',
  usage: '[--all]',
  help: [
    'One line per scope (mailbox, kind, direction) that tripped or holds writes in its quarantine: the trigger, when,',
    'and how many deletes and creates are held. Then the last operator actions (release, discard, restore).',
    '',
    scopeHelp,
    '',
    'Options:',
    '  --all   also list the scopes that only count writes (not tripped, nothing held)',
  ].join('\n'),
  options: { all: { type: 'boolean' } },
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx, values) {
    const rt = await ctx.runtime();
    await rt.ready();
    const rows: string[][] = [];
    for (const { scope, state } of await rt.breaker.store.scopes()) {
      const held = await rt.breaker.store.held(scope);
      const trip = state.trip ?? state.createTrip;
      if (!values.all && !trip && held.length === 0) continue;
      const deletes = held.filter((h) => h.op === 'delete').length;
      rows.push([scopeName(scope), trip ? `${trip.trigger} at ${trip.at}` : '-', String(deletes), String(held.length - deletes), trip?.detail ?? '']);
    }
    if (rows.length === 0) ctx.out('No breaker scope has tripped; nothing is held.');
    else ctx.out(formatTable(['SCOPE', 'TRIPPED', 'HELD DELETES', 'HELD CREATES', 'WHY'], rows));
    const audit = await rt.breaker.store.auditLog(10);
    if (audit.length > 0) {
      ctx.out('');
      ctx.out('Last operator actions:');
      ctx.out(formatTable(['AT', 'ACTION', 'SCOPE', 'ITEMS', 'OPERATOR'], audit.map((a) => [a.at, a.action, a.scope, String(a.items), a.operator])));
    }
  },
};

export const breakerShowCommand: CommandSpec = {
  name: 'breaker show',
  summary: 'Show the writes one breaker scope holds',
  usage: '<scope> [--json]',
  help: ['Lists the held writes of the scope: what, on which side, the ids of both sides, the trigger and when it was first held.', 'Ids only: the quarantine keeps no item contents.', '', scopeHelp, '', 'Options:', '  --json   print the entries as JSON'].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: { min: 1, max: 1, names: '<scope>' },
  async run(ctx, values, [text]) {
    const rt = await ctx.runtime();
    await rt.ready();
    const scope = await scopeArg(rt, text!);
    const state = await rt.breaker.store.get(scope);
    const held = await rt.breaker.store.held(scope);
    if (values.json) return ctx.out(JSON.stringify({ scope: scopeName(scope), trip: state.trip ?? null, createTrip: state.createTrip ?? null, held }, null, 2));
    const trip = state.trip ?? state.createTrip;
    ctx.out(`${scopeName(scope)}: ${trip ? `tripped (${trip.trigger}) at ${trip.at}: ${trip.detail}` : 'not tripped'}; ${held.length} held`);
    if (held.length === 0) return;
    ctx.out(
      formatTable(
        ['OP', 'SIDE', 'DATAVERSE', 'EXCHANGE', 'INFERRED', 'TRIGGER', 'FIRST HELD', 'REASON'],
        held.map((h) => [h.op === 'delete' ? (h.how ?? 'delete') : 'create', h.side, `${h.dataverseEntity} ${h.dataverseId ?? '-'}`, h.exchangeId ?? '-', h.inferred ? 'yes' : 'no', h.trigger, h.firstSeen, h.reason]),
      ),
    );
  },
};

const actionHelp: Record<QuarantineAction, string> = {
  release: 'Does the held writes after all: deletes (or cancels) the held items on their side, creates the held creates.',
  discard: 'Does not do the held writes: a held delete unlinks its pair and both items stay; a held create is dropped.',
  restore: 'The loss on the source side was the accident: copies each held delete\'s surviving item back to the side it went from and pairs it again.',
};

function actionCommand(action: QuarantineAction): CommandSpec {
  return {
    name: `breaker ${action}`,
    summary: `${action[0]!.toUpperCase()}${action.slice(1)} the writes a breaker scope holds`,
    usage: '<scope> [--ids id,id] [--operator name]',
    help: [
      actionHelp[action],
      'When nothing of the scope is held any more, its trip and counts are cleared, so its deletes flow again.',
      '',
      scopeHelp,
      '',
      'Options:',
      '  --ids <list>        only these held items (Dataverse or Exchange ids, comma-separated)',
      '  --operator <name>   who acts, for the audit log (default: the shell user)',
    ].join('\n'),
    options: { ids: { type: 'string' }, operator: { type: 'string' } },
    positionals: { min: 1, max: 1, names: '<scope>' },
    run: (ctx, values, [text]) => runAction(ctx, action, values, text!),
  };
}

async function runAction(ctx: CommandContext, action: QuarantineAction, values: OptionValues, text: string): Promise<void> {
  const rt = await ctx.runtime();
  await rt.ready();
  const scope = await scopeArg(rt, text);
  const ids = typeof values.ids === 'string' ? values.ids.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  if (ids && ids.length === 0) throw new UsageError('--ids needs at least one id');
  const operator = (values.operator as string | undefined) ?? ctx.env.USER ?? ctx.env.LOGNAME ?? ctx.env.USERNAME ?? 'unknown';
  const { results, cleared } = await actOnHeld(rt, action, scope, { ...(ids ? { ids } : {}), operator });
  if (results.length === 0) ctx.out(`${scopeName(scope)}: nothing held.`);
  else ctx.out(formatTable(['DATAVERSE', 'EXCHANGE', 'OUTCOME'], results.map((r) => [`${r.entry.dataverseEntity} ${r.entry.dataverseId ?? '-'}`, r.entry.exchangeId ?? '-', r.outcome])));
  ctx.out(`${action}: ${results.length} item(s) by ${operator}${cleared ? `; ${scopeName(scope)} cleared` : ''}`);
}

export const breakerReleaseCommand = actionCommand('release');
export const breakerDiscardCommand = actionCommand('discard');
export const breakerRestoreCommand = actionCommand('restore');
