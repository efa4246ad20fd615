// TLS: a Gateway serving wss:// / https:// with a certificate from a private CA, and this
// package's listener and sender trusting that CA through `caPem`. Certificates come from the
// openssl command line.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Scope, echoAccepted, interlink, rejectsWith, within } from './helpers.mjs';

const run = promisify(execFile);

/** A CA and a leaf certificate for 127.0.0.1 signed by it: {caPem, certPem, keyPem}. */
async function makePki(dir) {
  const f = (n) => path.join(dir, n);
  const ossl = (...args) => run('openssl', args, { cwd: dir, timeout: 20000 });
  await ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-days', '2', '-subj', '/CN=interlink test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
  await ossl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', f('leaf.key'), '-out', f('leaf.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('leaf.ext'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n');
  await ossl('x509', '-req', '-in', f('leaf.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('leaf.ext'), '-out', f('leaf.pem'));
  return { caPem: readFileSync(f('ca.pem'), 'utf8'), certPem: readFileSync(f('leaf.pem'), 'utf8'), keyPem: readFileSync(f('leaf.key'), 'utf8') };
}

test('listener and sender over TLS with a private CA; without it the handshake fails', { timeout: 60000 }, async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  const dir = mkdtempSync(path.join(tmpdir(), 'interlink-tls-'));
  scope.add(() => rmSync(dir, { recursive: true, force: true }));
  const { caPem, certPem, keyPem } = await makePki(dir);
  const gw = await within(interlink.Gateway.start({ tls: { certPem, keyPem } }), 'the TLS gateway');
  scope.add(() => gw.shutdown());
  assert.match(gw.connectionString, /UseTls=true/);
  const listener = await within(interlink.RelayListener.bind(gw.connectionString, 'secure', { caPem }), 'a listener over wss');
  scope.add(() => listener.close());
  listener.setHttpHandler((req) => ({ body: `secure ${req.url}` }));
  echoAccepted(listener);
  const sender = new interlink.RelaySender(gw.connectionString, 'secure', { caPem });
  const res = await within(sender.request({ path: '/x' }), 'a request over https');
  assert.equal(res.body.toString(), 'secure /secure/x');
  const ws = await within(sender.connect(), 'a WebSocket over wss');
  await ws.send('tls echo');
  assert.equal(await within(ws.receive(), 'the echo'), 'tls echo');
  await ws.close();
  await rejectsWith(new interlink.RelaySender(gw.connectionString, 'secure').request(), 'ERR_INTERLINK_NET');
  assert.throws(() => new interlink.RelaySender(gw.connectionString, 'secure', { caPem: 'not pem' }), { code: 'ERR_INTERLINK_INVALID_ARGUMENT' });
});
