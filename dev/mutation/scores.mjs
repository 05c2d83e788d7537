// Prints the mutation score of each file and folder from the reports the runs of `npm run test:mutation` left in
// reports/mutation/ (one per STRYKER_MUTATE target, see stryker.config.mjs): for each file, the newest report that
// holds it. Score as Stryker counts it: (killed + timeout) / (killed + timeout + survived + no coverage); compile
// errors and ignored mutants are not counted. `--survivors` also lists each surviving mutant.
// Usage: node dev/mutation/scores.mjs [--survivors]
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const dir = 'reports/mutation';
const reports = readdirSync(dir)
  .filter((name) => name.endsWith('.json') && !name.endsWith('.incremental.json'))
  .map((name) => ({ path: join(dir, name), mtime: statSync(join(dir, name)).mtimeMs }))
  .sort((a, b) => a.mtime - b.mtime);

/** file -> its mutants and source, from the newest report that holds it. */
const files = new Map();
for (const { path, mtime } of reports) {
  for (const [file, result] of Object.entries(JSON.parse(readFileSync(path, 'utf8')).files)) files.set(file, { ...result, at: new Date(mtime) });
}

const count = (mutants) => {
  const by = (status) => mutants.filter((m) => m.status === status).length;
  const detected = by('Killed') + by('Timeout');
  const undetected = by('Survived') + by('NoCoverage');
  return { detected, undetected, survived: by('Survived'), noCoverage: by('NoCoverage'), score: detected + undetected === 0 ? NaN : (100 * detected) / (detected + undetected) };
};
const row = (name, c) => `${name.padEnd(44)} ${c.score.toFixed(1).padStart(6)}  ${String(c.detected).padStart(6)}  ${String(c.survived).padStart(8)}  ${String(c.noCoverage).padStart(6)}`;

console.log(`${'file'.padEnd(44)} ${'score'.padStart(6)}  ${'killed'.padStart(6)}  ${'survived'.padStart(8)}  ${'no cov'.padStart(6)}`);
const folders = new Map();
for (const [file, result] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
  console.log(`${row(file, count(result.mutants))}   ${result.at.toISOString().slice(0, 16)}`);
  const folder = file.slice(0, file.lastIndexOf('/'));
  folders.set(folder, [...(folders.get(folder) ?? []), ...result.mutants]);
}
console.log('');
for (const [folder, mutants] of folders) console.log(row(`${folder}/ (measured files)`, count(mutants)));

if (process.argv.includes('--survivors')) {
  console.log('');
  for (const [file, result] of files) {
    const lines = result.source.split('\n');
    for (const m of result.mutants.filter((x) => x.status === 'Survived' || x.status === 'NoCoverage')) {
      const { line, column } = m.location.start;
      console.log(`${file}:${line}:${column} ${m.status} ${m.mutatorName}: ${lines[line - 1].trim().slice(0, 100)}  =>  ${String(m.replacement).replace(/\s+/g, ' ').slice(0, 80)}`);
    }
  }
}
