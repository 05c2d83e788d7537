// Local development TLS: one self-signed certificate for 127.0.0.1 / localhost / ::1 that every simulator serves.
// The Graph SDK only sends the Authorization header to https URLs and MSAL refuses http authorities
// (docs/reference/local-tooling.md, probes 4 and 5), so the simulators must speak HTTPS, and the product's
// process must trust them. Node reads NODE_EXTRA_CA_CERTS only at start, so the certificate is made before the
// process starts (dev/with-dev-ca.mjs) and kept under .local/ (git-ignored), renewed when it is near expiry.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from 'selfsigned';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const defaultCertificateDir = join(repoRoot, '.local', 'tls');

/**
 * Returns the paths and PEM text of the local development certificate, creating it when missing or expiring
 * within a day.
 * @param {string} [dir]
 * @returns {Promise<{ certPath: string, keyPath: string, cert: string, key: string }>}
 */
export async function ensureDevCertificate(dir = defaultCertificateDir) {
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  if (existsSync(certPath) && existsSync(keyPath)) {
    const cert = readFileSync(certPath, 'utf8');
    const validTo = new Date(new X509Certificate(cert).validTo);
    if (validTo.getTime() - Date.now() > 24 * 3600 * 1000) {
      return { certPath, keyPath, cert, key: readFileSync(keyPath, 'utf8') };
    }
  }
  const notBeforeDate = new Date(Date.now() - 3600 * 1000);
  const notAfterDate = new Date(Date.now() + 30 * 24 * 3600 * 1000);
  const pems = await generate([{ name: 'commonName', value: 'dataverse-exchange-sync local simulators' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate,
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  mkdirSync(dir, { recursive: true });
  writeFileSync(keyPath, pems.private, { mode: 0o600 });
  writeFileSync(certPath, pems.cert);
  return { certPath, keyPath, cert: pems.cert, key: pems.private };
}
