// The CLI as a person launches it (`npm run cli`, the installed bin): Node 20 reads `--env-file` anywhere on its own
// command line, so unless node's options are ended with `--`, a missing settings file stops node itself
// ("node: <path>: not found", exit 9) before the CLI can name the problem with its documented exit code.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('defect: a missing --env-file path gave node: X: not found, exit 9', () => {
  it('npm run cli -- --env-file <missing> status exits 2 with the CLI message', () => {
    const run = spawnSync('npm', ['run', '-s', 'cli', '--', '--env-file', '/nonexistent/settings.env', 'status'], { cwd: root, encoding: 'utf8' });
    expect(run.stderr).not.toMatch(/^node: /m);
    expect(run.stderr).toMatch(/^error: --env-file \/nonexistent\/settings\.env cannot be read: ENOENT/m);
    expect(run.status).toBe(2);
  }, 60_000);

  it('the bin (shared/cli/main.ts compiled, run by its shebang) hands --env-file to the CLI', () => {
    const shebang = readFileSync(join(root, 'shared/cli/main.ts'), 'utf8').split('\n')[0]!;
    expect(shebang).toBe('#!/usr/bin/env -S node --');
    // The same first line on a script that prints its arguments: node must neither read nor reject the option.
    const dir = mkdtempSync(join(tmpdir(), 'cli-shebang-'));
    try {
      const script = join(dir, 'args.mjs');
      writeFileSync(script, `${shebang}\nconsole.log(JSON.stringify(process.argv.slice(2)));\n`);
      chmodSync(script, 0o755);
      const run = spawnSync(script, ['--env-file', '/nonexistent/settings.env', 'status'], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
      expect(JSON.parse(run.stdout)).toEqual(['--env-file', '/nonexistent/settings.env', 'status']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
