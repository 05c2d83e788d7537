// `config show | set | unset | export | import | history`: the sync configuration as data (shared/settings/).
// Every change is validated (a refusal names the key and the rule), previewed with --dry-run, and written as the
// next version with who made it. A scope change lists per mailbox what would enter and leave the scope, and
// applying it unlinks what leaves (never deletes) and enqueues what enters; a direction change with --resync
// counts the pairs in scope first and then re-applies the directions to them.
import { readFileSync } from 'node:fs';
import { fieldTables, allowedDirections } from '../../mapping/index.js';
import type { Runtime } from '../../runtime.js';
import { configKinds, wordOfDirection, type ConfigChange, type ConfigPlan, type ConfigScope, type ConfigValue, type EffectiveConfig } from '../../settings/index.js';
import type { Mailbox } from '../../storage/mailboxStore.js';
import { applyResync, applyScopeChange, previewResync, previewScopeChange, type ResyncCount, type ScopeDelta } from '../../onboarding/scopeChange.js';
import { flowingInForce, updateFilteringAttributes } from '../../onboarding/webhooks.js';
import type { CommandContext, CommandSpec, OptionValues } from '../command.js';
import { UsageError } from '../env.js';
import { formatTable } from '../format.js';

const shown = 20;

/** The registered mailbox an operator names by UPN, address or Entra object id. */
async function mailboxNamed(rt: Runtime, name: string): Promise<Mailbox> {
  const key = name.toLowerCase();
  const mailbox = (await rt.mailboxes.list()).find((m) => [m.id, m.userPrincipalName, m.address].some((v) => v.toLowerCase() === key));
  if (!mailbox) throw new UsageError(`--mailbox ${name}: no registered mailbox has this UPN, address or id (see: mailbox list)`);
  return mailbox;
}

const scopeOf = async (rt: Runtime, values: OptionValues): Promise<{ scope: ConfigScope; label: string }> => {
  const name = values.mailbox as string | undefined;
  if (!name) return { scope: 'global', label: 'global' };
  const mailbox = await mailboxNamed(rt, name);
  return { scope: { mailboxId: mailbox.id }, label: `mailbox ${mailbox.userPrincipalName}` };
};

const who = (ctx: CommandContext, values: OptionValues) => (values.by as string | undefined) ?? ctx.env.USER ?? ctx.env.USERNAME ?? 'cli';
const text = (v: ConfigValue | undefined) => (v === undefined ? '(unset)' : typeof v === 'string' ? v : JSON.stringify(v));

function describeChanges(changes: readonly ConfigChange[]): string[] {
  return changes.map((c) => `  ${c.scope} ${c.key}: ${text(c.from)} -> ${text(c.to)}`);
}

function describeScope(deltas: readonly ScopeDelta[]): string[] {
  if (deltas.length === 0) return ['  scope: no item enters or leaves any mailbox'];
  const lines: string[] = [];
  for (const d of deltas) {
    lines.push(`  ${d.mailbox.userPrincipalName} ${d.kind}: ${d.enter.length} enter, ${d.leave.length} leave (leaving items are unlinked, never deleted)`);
    for (const e of d.enter.slice(0, shown)) lines.push(`    enter: ${e.table} ${e.dataverseId} (filter "${e.filter}")`);
    if (d.enter.length > shown) lines.push(`    ... and ${d.enter.length - shown} more enter`);
    for (const e of d.leave.slice(0, shown)) lines.push(`    leave: ${e.table} ${e.dataverseId}${e.exchangeId ? ` <-> ${e.exchangeId}` : ''}`);
    if (d.leave.length > shown) lines.push(`    ... and ${d.leave.length - shown} more leave`);
  }
  return lines;
}

function describeResync(counts: readonly ResyncCount[]): string[] {
  if (counts.length === 0) return ['  resync: no pair in scope has a changed field'];
  return counts.map((c) => `  resync ${c.mailbox.userPrincipalName} ${c.kind}: ${c.pairs.length} pair(s) in scope, fields ${c.fields.join(', ')}`);
}

/** Previews a plan, then (unless a dry run) writes it and runs what it needs; prints the same lines both ways. */
async function previewAndApply(ctx: CommandContext, rt: Runtime, plan: ConfigPlan, values: OptionValues, note: string): Promise<void> {
  const dry = values['dry-run'] === true;
  if (plan.changes.length === 0) {
    ctx.out(`No change: the configuration is already so (version ${plan.baseVersion}).`);
    return;
  }
  const scope = plan.changes.some((c) => c.key.startsWith('scope.')) ? await previewScopeChange(rt, plan) : [];
  const resync = values.resync === true ? await previewResync(rt, plan) : [];
  ctx.out(dry ? `Dry run: nothing is changed. Version ${plan.baseVersion} would become ${plan.baseVersion + 1}:` : `Version ${plan.baseVersion} -> ${plan.baseVersion + 1}:`);
  for (const line of describeChanges(plan.changes)) ctx.out(line);
  if (plan.changes.some((c) => c.key.startsWith('scope.'))) for (const line of describeScope(scope)) ctx.out(line);
  if (values.resync === true) for (const line of describeResync(resync)) ctx.out(line);
  if (dry) return;
  const version = await rt.config.apply(plan, who(ctx, values), note);
  ctx.out(`written as version ${version!.version} by ${version!.updatedBy}; workers use it within a minute (their cache)`);
  if (scope.length) {
    const done = await applyScopeChange(rt, scope, version!.version);
    ctx.out(`  scope applied: ${done.unlinked} unlinked, ${done.enqueued} enqueued to enter`);
    // Ids only in the log line (its warning); the count tells the administrator that some Outlook changes stayed there.
    if (done.notCaughtUp > 0) ctx.out(`  ${done.notCaughtUp} leaving copy/copies let go without catching up an unsynced Outlook change (a service error: see the log)`);
  }
  // Dataverse raises an Update webhook only for the filtering attributes: a direction change moves them (a field
  // switched back to flow to Exchange must raise webhooks again; --resync covers changes made before this line ran).
  if (plan.changes.some((c) => c.key.startsWith('fields.'))) {
    const steps = await updateFilteringAttributes(rt.dataverse, await flowingInForce(rt.config));
    ctx.out(steps.length ? steps.map((l) => `  ${l}`).join('\n') : '  webhook filtering attributes already match the directions');
  }
  if (resync.length) {
    const done = await applyResync(rt, resync);
    ctx.out(`  resync applied: ${done.resynced} pair(s) merged again, ${done.updated} written`);
  }
}

const changeOptions = {
  mailbox: { type: 'string' },
  'dry-run': { type: 'boolean' },
  resync: { type: 'boolean' },
  by: { type: 'string' },
} as const;

const changeHelp = [
  'Options:',
  '  --mailbox <upn>   the key for this mailbox only (it wins over the global key); default: global',
  '  --dry-run         print what would change (keys, and per mailbox the items that would enter and leave',
  '                    the scope, or the pairs --resync would touch), change nothing',
  '  --resync          after a direction change, re-apply the directions to the pairs in scope now (merging',
  '                    both sides) instead of at each item\'s next change; with --dry-run: count them',
  '  --by <name>       who makes the change, recorded with the version (default: $USER)',
  '',
  'A direction change also brings the Dataverse Update steps\' filtering attributes in line: a field that flows to',
  'Exchange in no scope raises no webhook (docs/operations.md "Webhook filtering attributes").',
].join('\n');

export const configSetCommand: CommandSpec = {
  name: 'config set',
  summary: 'Set a sync configuration key (validated, versioned; --dry-run previews)',
  usage: '<key> <value> [--mailbox <upn>] [--dry-run] [--resync]',
  help: [
    'Keys (docs/operations.md, "Sync configuration"):',
    '  fields.<kind>.<field>.direction   both | toExchange | toDataverse | none, within server-side sync\'s allowed',
    '                                    directions (config show lists them; a fixed field only takes its own)',
    '  scope.<kind>                      a JSON list of filters, combined with OR, e.g.',
    '                                    \'[{"name":"My Activities","who":"ownerOrParty"},',
    '                                      {"name":"Flagged","who":"owner","where":[{"column":"new_sync","op":"eq","value":true}]}]\'',
    '  breaker.<limit> | breaker.<kind>.<limit>   mass-delete breaker limits',
    `Kinds: ${configKinds.join(', ')}.`,
    '',
    changeHelp,
  ].join('\n'),
  options: changeOptions,
  positionals: { min: 2, max: 2, names: '<key> <value>' },
  async run(ctx, values, [key, value]) {
    const rt = await ctx.runtime();
    await rt.ready();
    const { scope, label } = await scopeOf(rt, values);
    await previewAndApply(ctx, rt, await rt.config.planSet(scope, { [key!]: value }), values, `config set ${key} (${label})`);
  },
};

export const configUnsetCommand: CommandSpec = {
  name: 'config unset',
  summary: 'Remove a sync configuration key (the global value or the default applies again)',
  usage: '<key> [--mailbox <upn>] [--dry-run] [--resync]',
  help: changeHelp,
  options: changeOptions,
  positionals: { min: 1, max: 1, names: '<key>' },
  async run(ctx, values, [key]) {
    const rt = await ctx.runtime();
    await rt.ready();
    const { scope, label } = await scopeOf(rt, values);
    await previewAndApply(ctx, rt, await rt.config.planSet(scope, { [key!]: undefined }), values, `config unset ${key} (${label})`);
  },
};

/** The effective configuration as the lines `config show` prints. */
export function formatConfig(config: EffectiveConfig, where: string, setAt: (key: string) => string): string[] {
  const lines = [`Sync configuration for ${where}: version ${config.version}`, ''];
  for (const kind of configKinds) {
    lines.push(`${kind} fields`);
    lines.push(
      formatTable(
        ['FIELD', 'DIRECTION', 'ALLOWED', 'SET'],
        fieldTables[kind].map((row) => [
          row.name,
          wordOfDirection(config.fields[kind][row.name]!),
          (allowedDirections(kind, row.name) ?? []).map(wordOfDirection).join(','),
          setAt(`fields.${kind}.${row.name}.direction`),
        ]),
      ),
      '',
      `${kind} scope (${setAt(`scope.${kind}`)}): in scope when ANY filter matches`,
      ...config.scope[kind].map((f) => `  ${f.name}: ${f.who === 'owner' ? 'the user owns it' : 'the user owns it or is a party'}${f.where.map((c) => ` and ${c.column} ${c.op} ${JSON.stringify(c.value)}`).join('')}`),
      '',
    );
  }
  lines.push('breaker limits');
  lines.push(formatTable(['LIMIT', ...configKinds], Object.keys(config.breaker.appointment).map((name) => [name, ...configKinds.map((k) => String((config.breaker[k] as Record<string, unknown>)[name]))])));
  return lines;
}

export const configShowCommand: CommandSpec = {
  name: 'config show',
  summary: 'Print the effective sync configuration (global, or for one mailbox)',
  usage: '[--mailbox <upn>] [--json]',
  help: [
    'Every field with its direction, the directions it allows and where the value comes from (default, global,',
    'mailbox); the scope filters per kind (a union: an item is in scope when any filter matches); the breaker',
    'limits per kind.',
    '',
    'Options:',
    '  --mailbox <upn>   the configuration in force for this mailbox (its own keys over the global ones)',
    '  --json            the effective configuration as JSON',
  ].join('\n'),
  options: { mailbox: { type: 'string' }, json: { type: 'boolean' } },
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx, values) {
    const rt = await ctx.runtime();
    await rt.ready();
    const name = values.mailbox as string | undefined;
    const mailbox = name ? await mailboxNamed(rt, name) : undefined;
    const snapshot = await rt.config.snapshot({ fresh: true });
    const config = await rt.config.effective(mailbox?.id, { fresh: true });
    if (values.json) {
      ctx.out(JSON.stringify(config, null, 2));
      return;
    }
    const own = mailbox ? (snapshot.mailboxes[mailbox.id.toLowerCase()] ?? {}) : {};
    const setAt = (key: string) => (key in own ? 'mailbox' : key in snapshot.global ? 'global' : 'default');
    for (const line of formatConfig(config, mailbox ? `mailbox ${mailbox.userPrincipalName}` : 'every mailbox (global)', setAt)) ctx.out(line);
    if (snapshot.version > 0) ctx.out(`\nlast changed ${snapshot.at} by ${snapshot.updatedBy} (config history lists the versions)`);
  },
};

export const configExportCommand: CommandSpec = {
  name: 'config export',
  summary: 'Print the stored sync configuration as JSON (for config import in another environment)',
  usage: '',
  help: 'The global keys and each mailbox\'s own keys (by Entra object id), as `config import` reads them.',
  options: {},
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx) {
    const rt = await ctx.runtime();
    await rt.ready();
    ctx.out(JSON.stringify(await rt.config.export(), null, 2));
  },
};

export const configImportCommand: CommandSpec = {
  name: 'config import',
  summary: 'Replace the sync configuration with an exported one (validated, one version; --dry-run previews)',
  usage: '<file.json> [--dry-run] [--resync]',
  help: ['Every key of the file is validated first; nothing is written unless all are valid. Keys not in the file are removed.', '', changeHelp].join('\n'),
  options: { 'dry-run': { type: 'boolean' }, resync: { type: 'boolean' }, by: { type: 'string' } },
  positionals: { min: 1, max: 1, names: '<file.json>' },
  async run(ctx, values, [file]) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file!, 'utf8'));
    } catch (error) {
      throw new UsageError(`config import: cannot read ${file} as JSON: ${(error as Error).message}`);
    }
    const rt = await ctx.runtime();
    await rt.ready();
    await previewAndApply(ctx, rt, await rt.config.planImport(json), values, `config import ${file}`);
  },
};

export const configHistoryCommand: CommandSpec = {
  name: 'config history',
  summary: 'List the configuration versions: when, who, and which keys each changed',
  usage: '[--limit <n>]',
  help: 'Newest first.\n\nOptions:\n  --limit <n>   how many versions (default 20)',
  options: { limit: { type: 'string' } },
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx, values) {
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1) throw new UsageError('--limit must be a whole number from 1');
    const rt = await ctx.runtime();
    await rt.ready();
    const versions = await rt.config.history(limit);
    if (versions.length === 0) {
      ctx.out('No version written yet: every mailbox runs on the defaults (version 0).');
      return;
    }
    ctx.out(formatTable(['VERSION', 'AT', 'BY', 'CHANGES'], versions.map((v) => [String(v.version), v.at, v.updatedBy, v.changes.map((c) => `${c.scope === 'global' ? '' : `${c.scope} `}${c.key}=${text(c.to)}`).join('; ')])));
  },
};
