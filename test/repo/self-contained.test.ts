// A clone is the whole project: no tracked file may read, name or cite a path outside the repository (a sibling
// reference folder, a development machine's home or work directory, notes that only exist beside one checkout).
// The patterns are built from pieces so this file does not match itself.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const slash = '/';
const forbidden: { name: string; pattern: RegExp }[] = [
  { name: 'the reference folder outside the repository', pattern: new RegExp(`shared${slash}reference`) },
  { name: 'an absolute development path', pattern: new RegExp(`(^|[\\s'"\`(=:])${slash}(work|home|root)${slash}`) },
  { name: 'the outside fact sheet', pattern: new RegExp(`(^|[^\\w-])${'facts'}\\.md`) },
  { name: 'the outside research notes', pattern: new RegExp(['notes', 'q6', 'q8'].join('-')) },
  { name: 'the hash-named rules file', pattern: new RegExp(['000', 'a4dbfdc829bb8239'].join('_')) },
];

/** Every tracked file but the lock file (its registry URLs are npm's), as lines. */
function trackedFiles(): string[] {
  return execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter((f) => f !== '' && f !== 'package-lock.json');
}

const relative = /(?:^|[^\w./-])((?:\.\.\/)+[\w.-]+)/g;

/** The offending lines of a text, as "path:line: text"; relative paths are resolved from the file's folder. */
export function findOutsidePaths(path: string, text: string): string[] {
  const hits: string[] = [];
  const folder = dirname(join(root, path));
  text.split('\n').forEach((line, i) => {
    const where = `${path}:${i + 1}`;
    for (const { name, pattern } of forbidden) if (pattern.test(line)) hits.push(`${where}: ${name}: ${line.trim().slice(0, 160)}`);
    for (const [, rel] of line.matchAll(relative)) {
      const target = resolve(folder, rel!);
      if (target !== root && !target.startsWith(`${root}/`)) hits.push(`${where}: a path above the repository (${rel!}): ${line.trim().slice(0, 160)}`);
    }
  });
  return hits;
}

describe('the repository is self-contained', () => {
  it('the guard recognises each kind of outside path', () => {
    const samples = [
      `readFileSync(\`${slash}work${slash}x${slash}samples${slash}a.json\`)`,
      `new URL('../..${slash}..${slash}shared${slash}reference${slash}samples${slash}a.json', import.meta.url)`,
      `new URL('${['..', '..', '..', '..', 'shared', 'x.json'].join(slash)}', import.meta.url)`,
      `// see ${'facts'}.md section 6`,
      `// ${['notes', 'q6', 'q8'].join('-')}.md Q7`,
      `// ${['000', 'a4dbfdc829bb8239'].join('_')}.txt`,
      `cd ${slash}home${slash}someone${slash}project`,
    ];
    for (const s of samples) expect(findOutsidePaths('test/sim/dataverse/support.ts', s).length, s).toBeGreaterThan(0);
    expect(findOutsidePaths('test/sim/dataverse/support.ts', "import { x } from '../../shared/log.js';")).toEqual([]);
    expect(findOutsidePaths('ok', '// docs/reference/platform-facts.md section 6; https://learn.microsoft.com/graph/throttling')).toEqual([]);
  });

  it('no tracked file names a path outside the repository', () => {
    const files = trackedFiles();
    expect(files.length).toBeGreaterThan(50);
    const hits: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(join(root, file), 'utf8');
      } catch {
        continue; // deleted in the work tree but not yet in the index
      }
      if (text.includes('\0')) continue; // binary
      hits.push(...findOutsidePaths(file, text));
    }
    expect(hits).toEqual([]);
  });
});
