// `npm pack` gives an installable tarball: installed into an empty folder it loads, and the
// README example runs against it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const npmEnv = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };

test('npm pack -> npm install in an empty folder -> require and the README example work', { timeout: 120000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'interlink-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const packed = await run('npm', ['pack', '--pack-destination', dir, '--json'], { cwd: pkgDir, env: npmEnv, timeout: 60000 });
  const [info] = JSON.parse(packed.stdout);
  const files = info.files.map((f) => f.path).sort();
  assert.deepEqual(files.filter((f) => !f.endsWith('.md')), ['index.d.ts', 'index.js', 'interlink.linux-x64-gnu.node', 'package.json']);
  const tarball = path.join(dir, info.filename);
  assert.ok(readdirSync(dir).includes(info.filename));

  const app = path.join(dir, 'app');
  rmSync(app, { recursive: true, force: true });
  await run('mkdir', ['-p', app]);
  writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--offline', tarball], { cwd: app, env: npmEnv, timeout: 60000 });

  const cjs = await run(process.execPath, ['-e', `
    const il = require('interlink');
    const names = ['Gateway', 'GatewayMachine', 'RelayListener', 'RelaySender', 'RelayWebSocket', 'createToken', 'validateToken', 'ErrorCode'];
    for (const n of names) if (!(n in il)) throw new Error('missing export ' + n);
    console.log(il.createToken('http://h/hc', 'k', 'v', { expiresAt: 1 }).slice(0, 21), il.ErrorCode.Timeout);
  `], { cwd: app, timeout: 30000 });
  assert.equal(cjs.stdout.trim(), 'SharedAccessSignature ERR_INTERLINK_TIMEOUT');

  copyFileSync(path.join(pkgDir, 'examples/readme.mjs'), path.join(app, 'readme.mjs'));
  const example = await run(process.execPath, ['readme.mjs'], { cwd: app, timeout: 30000 });
  assert.deepEqual(example.stdout.trim().split('\n'), [
    '200 hi, POST /hello/greet?lang=en (3 bytes)',
    'ping',
    'ERR_INTERLINK_REFUSED 404',
  ]);
});
