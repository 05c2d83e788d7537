// `explain <id>`: why an item did or did not sync (shared/status/explain.ts, also GET /api/status?explain=<id>).
import { explainItem, type Explanation } from '../../status/index.js';
import type { CommandSpec } from '../command.js';
import { formatTable, truncate } from '../format.js';

/** The explanation as the lines the CLI prints. */
export function formatExplanation(e: Explanation): string[] {
  const lines = [`${e.idKind === 'dataverse' ? 'Dataverse record' : 'Exchange item'} ${e.id}`, `  ${e.summary}`, ''];
  if (e.pairs.length === 0) lines.push('Pairs: none (not linked in any mailbox)');
  else {
    lines.push('Pairs');
    lines.push(formatTable(['MAILBOX', 'KIND', 'DATAVERSE', 'EXCHANGE', 'STATUS'], e.pairs.map((p) => [p.userPrincipalName ?? p.mailboxId, p.kind, `${p.dataverseEntity} ${p.dataverseId}`, p.exchangeId ?? '-', `${p.status}${p.mirror ? ' (mirror)' : ''}`])));
  }
  for (const m of e.mailboxes) {
    lines.push('', `Decisions in ${m.userPrincipalName ?? m.mailboxId ?? 'no mailbox'} (last to Exchange: ${m.lastSync.toExchange ?? 'never'}; last to Dynamics 365: ${m.lastSync.toDataverse ?? 'never'})`);
    lines.push(formatTable(['AT', 'DIRECTION', 'SOURCE', 'DECISION', 'OUTCOME', 'CONFIG', 'REASON'], m.decisions.map((d) => [d.at, d.direction, d.source ?? '-', d.decision, d.outcome ?? '-', d.configVersion === undefined ? '-' : `v${d.configVersion}`, truncate(d.reason, 140)])));
  }
  return lines;
}

export const explainCommand: CommandSpec = {
  name: 'explain',
  summary: 'Why an item did or did not sync: its pairs, the last decisions with reasons, the last sync per direction',
  usage: '<dataverse-id | exchange-id> [--json]',
  help: [
    'Looks the item up by its Dataverse id (a GUID) or its Exchange id in what the sync recorded: the pair in each',
    'mailbox, the last decisions taken for it with their reasons (not tracked, out of scope, echo, invitation rule,',
    'delete rule, held by the breaker, dead-lettered, ...) and when it last synced each way. The same answer as',
    'GET /api/status?explain=<id>.',
    '',
    'Options:',
    '  --json   print the explanation as JSON, as the endpoint returns it',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: { min: 1, max: 1, names: '<dataverse-id | exchange-id>' },
  async run(ctx, values, [id]) {
    const explanation = await explainItem(await ctx.runtime(), id!);
    if (values.json) ctx.out(JSON.stringify(explanation, null, 2));
    else for (const line of formatExplanation(explanation)) ctx.out(line);
  },
};
