// The generated index.d.ts types a TypeScript program using the hub API under
// `tsc --strict`, and rejects the wrong uses marked @ts-expect-error in it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('index.d.ts types a program using the hub API under tsc --strict', { timeout: 60000 }, async () => {
  const tsc = path.join(pkgDir, 'node_modules/typescript/bin/tsc');
  const args = ['--strict', '--noEmit', '--target', 'es2022', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--types', 'node', 'test/types/hub-usage.ts'];
  const result = await run(process.execPath, [tsc, ...args], { cwd: pkgDir, timeout: 60000 }).catch((e) => e);
  assert.equal(result.code ?? 0, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
});
