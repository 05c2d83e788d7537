// `status`: what the status endpoint answers (buildStatus), as tables.
import { buildStatus, type StatusReport } from '../../handlers/status.js';
import type { CommandSpec } from '../command.js';
import { formatTable, truncate } from '../format.js';

/** The status report as the text the CLI prints. */
export function formatStatus(report: StatusReport): string[] {
  const lines: string[] = [`Status at ${report.generatedAt}`, ''];
  lines.push(`Mailboxes (${report.mailboxes.length})`);
  lines.push(
    report.mailboxes.length === 0
      ? '  none registered'
      : formatTable(
          ['UPN', 'STATE', 'REASON', 'ENTITIES', 'SUBSCRIPTIONS (EXPIRY)'],
          report.mailboxes.map((m) => [
            m.userPrincipalName,
            m.state,
            m.stateReason ?? '',
            m.entities.join(','),
            [...m.subscriptions].sort((a, b) => a.resourceKind.localeCompare(b.resourceKind)).map((s) => `${s.resourceKind} until ${s.expirationDateTime}`).join('; ') || 'none',
          ]),
        ),
  );
  lines.push('', `Dead letters recorded: ${report.deadLetters.count}${report.deadLetters.count > report.deadLetters.recent.length ? ` (latest ${report.deadLetters.recent.length} shown)` : ''}`);
  if (report.deadLetters.recent.length) {
    lines.push(
      formatTable(
        ['AT', 'MESSAGE ID', 'REASON', 'DESCRIPTION'],
        report.deadLetters.recent.map((d) => [d.at, d.messageId, d.reason, truncate(d.description, 100)]),
      ),
    );
  }
  const c = report.calls;
  lines.push('', `API calls by this process: Graph ${c.graphRead} reads, ${c.graphWrite} writes; Dataverse ${c.dataverseRead} reads, ${c.dataverseWrite} writes`);
  return lines;
}

export const statusCommand: CommandSpec = {
  name: 'status',
  summary: 'Mailboxes, subscriptions and recorded dead letters (the status endpoint, as tables)',
  usage: '[--json]',
  help: [
    'Prints what GET /api/status answers, read from the same tables: each mailbox with its state and subscriptions,',
    'and the dead-letter reasons the worker recorded (see also: dlq list).',
    '',
    'Options:',
    '  --json   print the report as JSON, exactly as the endpoint returns it',
  ].join('\n'),
  options: { json: { type: 'boolean' } },
  positionals: { min: 0, max: 0, names: '' },
  async run(ctx, values) {
    const report = await buildStatus(await ctx.runtime());
    if (values.json) ctx.out(JSON.stringify(report, null, 2));
    else for (const line of formatStatus(report)) ctx.out(line);
  },
};
