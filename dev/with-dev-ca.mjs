#!/usr/bin/env node
// Runs a command with the local simulators' certificate trusted: NODE_EXTRA_CA_CERTS must be set before a Node
// process starts, so `npm test`, `npm start` and the benchmarks go through this launcher.
// Usage: node dev/with-dev-ca.mjs <command> [args...]
import { spawn } from 'node:child_process';
import { ensureDevCertificate } from './tls/devCertificate.mjs';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: node dev/with-dev-ca.mjs <command> [args...]');
  process.exit(2);
}
const { certPath, keyPath } = await ensureDevCertificate();
const child = spawn(command, args, {
  stdio: 'inherit',
  shell: process.platform === 'win32',
  env: { ...process.env, NODE_EXTRA_CA_CERTS: certPath, DEV_TLS_CERT: certPath, DEV_TLS_KEY: keyPath },
});
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
