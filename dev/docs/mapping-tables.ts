// Generates the README section between `<!-- mapping:start -->` and `<!-- mapping:end -->` from the field tables
// and rule decisions in shared/mapping, so the documentation cannot drift from the code.
//   npm run docs:mapping                      (tsx dev/docs/mapping-tables.ts --write)
//   tsx dev/docs/mapping-tables.ts --check    (exit 1 when the README section is stale)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { allowedDirections, fieldTables, mappingDecisions, recurrencePatternTable, type EntityKind, type FieldDescription } from '../../shared/mapping/index.js';

export const startMarker = '<!-- mapping:start -->';
export const endMarker = '<!-- mapping:end -->';
export const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));

const titles: Readonly<Record<EntityKind, string>> = {
  appointment: 'Appointments: Dataverse `appointment` <-> Graph `event`',
  task: 'Tasks: Dataverse `task`, `phonecall`, `letter`, `fax` <-> Graph (To Do) `todoTask`',
  contact: 'Contacts: Dataverse `contact` <-> Graph `contact`',
  email: 'Email (opt-in per mailbox): Dataverse `email` <-> Graph `message`, copied once each way',
};

const directionText: Readonly<Record<FieldDescription['direction'], string>> = {
  Both: 'Both',
  ToExchange: 'To Exchange',
  ToDataverse: 'To Dataverse',
  None: 'None',
};

/** The directions `config set fields.<kind>.<field>.direction` accepts, or "fixed" (server-side sync's matrix). */
function allowedText(kind: EntityKind, field: string): string {
  const allowed = allowedDirections(kind, field) ?? [];
  return allowed.length <= 1 ? 'fixed' : allowed.map((d) => directionText[d]).join(', ');
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function code(names: readonly string[]): string {
  return names.length === 0 ? '-' : names.map((n) => `\`${n}\``).join(', ');
}

function table(kind: EntityKind): string[] {
  const lines = [
    `### ${titles[kind]}`,
    '',
    '| Field | Dataverse column | Graph property | Direction | Allowed directions | To Exchange | To Dataverse |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const row of fieldTables[kind]) {
    lines.push(
      `| \`${row.name}\` | ${cell(code(row.dataverse))} | ${cell(code(row.graph))} | ${directionText[row.direction]} | ${allowedText(kind, row.name)} | ${cell(row.conversion.toExchange)} | ${cell(row.conversion.toDataverse)} |`,
    );
  }
  return lines;
}

/** The Markdown that belongs between the markers (without the markers). */
export function renderMappingSection(): string {
  const lines = [
    '<!-- Generated from shared/mapping by `npm run docs:mapping`; edit the field tables and decisions there. -->',
    '',
    'The sync follows Dynamics 365 server-side synchronization. Each kind of item has a field table, like the',
    'synchronized fields an administrator sees in Dynamics 365: one row per Dataverse column and Graph property, with',
    'its direction (Both, To Exchange, To Dataverse, None), the directions an administrator may give it',
    '(`config set fields.<kind>.<field>.direction`, checked against server-side synchronization\'s allowed-directions',
    'matrix: https://learn.microsoft.com/power-platform/admin/what-fields-synchronized-outlook; "fixed" fields keep',
    'theirs) and the conversion each way. The rules are pure functions',
    'in `shared/mapping/` (export surface `shared/mapping/index.ts`); the clock and the mailbox time zone are passed in.',
    '',
  ];
  for (const kind of Object.keys(titles) as EntityKind[]) lines.push(...table(kind), '');
  lines.push(
    '### Recurrence pattern: Graph `patternedRecurrence` <-> Dataverse `recurringappointmentmaster`',
    '',
    'The `recurrence` field of a series, pattern by pattern and range by range (`shared/mapping/recurrence.ts`).',
    '',
    '| Pattern | Graph | Dataverse | Note |',
    '|---|---|---|---|',
  );
  for (const row of recurrencePatternTable) lines.push(`| ${cell(row.what)} | ${cell(row.graph)} | ${cell(row.dataverse)} | ${cell(row.note)} |`);
  lines.push('');
  lines.push('### Rule decisions', '');
  for (const d of mappingDecisions) {
    const scope = d.kind === 'all' ? 'All items' : `${d.kind[0]?.toUpperCase() ?? ''}${d.kind.slice(1)}s`;
    lines.push(`- **${scope}: ${d.rule}.** ${d.decision} (Source: ${d.source}.)`);
  }
  return lines.join('\n');
}

/** The README text with the mapping section replaced; throws when the markers are missing or out of order. */
export function updateReadme(readme: string): string {
  const start = readme.indexOf(startMarker);
  const end = readme.indexOf(endMarker);
  if (start < 0 || end < start) throw new Error(`README.md needs ${startMarker} followed by ${endMarker}`);
  return `${readme.slice(0, start + startMarker.length)}\n${renderMappingSection()}\n${readme.slice(end)}`;
}

/** Compares the README's mapping section with what the code tables generate. */
export function checkReadme(path: string = readmePath): { upToDate: boolean; message: string } {
  const current = readFileSync(path, 'utf8');
  const upToDate = updateReadme(current) === current;
  return {
    upToDate,
    message: upToDate
      ? 'README mapping section is up to date.'
      : 'README mapping section is stale: the field tables or rule decisions in shared/mapping changed. Run `npm run docs:mapping`.',
  };
}

/** Rewrites the README's mapping section in place; returns whether anything changed. */
export function writeReadme(path: string = readmePath): boolean {
  const current = readFileSync(path, 'utf8');
  const next = updateReadme(current);
  if (next !== current) writeFileSync(path, next);
  return next !== current;
}

function main(args: readonly string[]): number {
  if (args.includes('--check')) {
    const result = checkReadme();
    console.log(result.message);
    return result.upToDate ? 0 : 1;
  }
  if (args.includes('--write')) {
    console.log(writeReadme() ? 'README mapping section written.' : 'README mapping section already up to date.');
    return 0;
  }
  console.error('usage: tsx dev/docs/mapping-tables.ts --write | --check');
  return 2;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = main(process.argv.slice(2));
}
