import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkReadme, endMarker, readmePath, renderMappingSection, startMarker, updateReadme } from '../../dev/docs/mapping-tables.js';
import { fieldTables, mappingDecisions } from '../../shared/mapping/index.js';

describe('README mapping section', () => {
  it('is generated from the current field tables and decisions', () => {
    const result = checkReadme();
    expect(result.upToDate, result.message).toBe(true);
  });

  it('lists every field table row and every rule decision', () => {
    const section = renderMappingSection();
    for (const rows of Object.values(fieldTables)) {
      for (const row of rows) expect(section).toContain(`| \`${row.name}\` |`);
    }
    for (const d of mappingDecisions) expect(section).toContain(d.rule);
  });

  it('the check notices a stale section and names the command that fixes it', () => {
    const readme = readFileSync(readmePath, 'utf8');
    const stale = readme.replace(startMarker, `${startMarker}\nstale text`);
    expect(updateReadme(stale)).not.toBe(stale);
    expect(updateReadme(updateReadme(stale))).toBe(updateReadme(stale));
    expect(() => updateReadme(readme.replace(endMarker, ''))).toThrow(/mapping:end/);
  });
});
