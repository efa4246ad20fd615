// Token helpers: createToken is byte-compatible with hyco's createRelayToken, validateToken
// checks like the gateway does, and failures are Errors with stable codes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interlink, interop } from './helpers.mjs';

const { createToken, validateToken, ErrorCode } = interlink;
const hyco = interop('hyco-https');
const key = 'c2VjcmV0LWtleS1mb3ItdGVzdHM=';
const keys = [
  { name: 'root', key },
  { name: 'sendonly', key: 'another', rights: 'send' },
];

test('createToken gives the same token as hyco createRelayToken for the same expiry', () => {
  const uri = 'ws://127.0.0.1:9555/$hc/hc1?sb-hc-action=listen';
  const theirs = hyco.createRelayToken(uri, 'root', key);
  const se = Number(/se=(\d+)/.exec(theirs)[1]);
  assert.equal(createToken(uri, 'root', key, { expiresAt: se }), theirs);
  const ours = createToken(uri, 'root', key);
  assert.match(ours, /^SharedAccessSignature sr=http%3A%2F%2F127\.0\.0\.1%3A9555%2Fhc1&sig=.+&se=\d+&skn=root$/);
  const ttl = Number(/se=(\d+)/.exec(ours)[1]) - Math.floor(Date.now() / 1000);
  assert.ok(ttl > 3590 && ttl <= 3600, `default lifetime is one hour, got ${ttl}`);
  const short = createToken(uri, 'root', key, { ttlSeconds: 60 });
  const shortTtl = Number(/se=(\d+)/.exec(short)[1]) - Math.floor(Date.now() / 1000);
  assert.ok(shortTtl > 50 && shortTtl <= 60, `ttlSeconds is honoured, got ${shortTtl}`);
});

test('validateToken accepts good tokens, including hyco-made ones', () => {
  const hycoToken = hyco.createRelayToken('ws://127.0.0.1:9555/$hc/hc1', 'root', key);
  const ok = validateToken(hycoToken, { audience: 'http://127.0.0.1:1/hc1/suffix', keys, rights: 'listen' });
  assert.equal(ok.keyName, 'root');
  assert.equal(ok.rights, 'listen,send,manage');
  assert.equal(ok.expiry, Number(/se=(\d+)/.exec(hycoToken)[1]));
  const send = createToken('http://127.0.0.1/hc1', 'sendonly', 'another');
  assert.equal(validateToken(send, { audience: 'ws://127.0.0.1/$hc/hc1', keys, rights: 'send' }).rights, 'send');
});

test('validateToken failures carry code, status and reason', () => {
  const token = createToken('http://h/hc1', 'root', key, { expiresAt: 1000 });
  const check = (fn, status, reason) => {
    assert.throws(fn, (e) => {
      assert.ok(e instanceof Error);
      assert.equal(e.code, 'ERR_INTERLINK_UNAUTHORIZED');
      assert.equal(e.code, ErrorCode.Unauthorized);
      assert.equal(e.status, status);
      assert.equal(e.reason, reason);
      return true;
    });
  };
  const base = { audience: 'http://h/hc1', keys, now: 999, graceSeconds: 0 };
  assert.equal(validateToken(token, base).keyName, 'root');
  check(() => validateToken(token, { ...base, now: 1001 }), 401, 'expired');
  assert.equal(validateToken(token, { ...base, now: 1200, graceSeconds: 300 }).expiry, 1000);
  check(() => validateToken(token, { ...base, audience: 'http://h/other' }), 401, 'invalid-audience');
  check(() => validateToken(token, { ...base, keys: [{ name: 'root', key: 'wrong' }] }), 401, 'bad-signature');
  check(() => validateToken(token, { ...base, keys: [{ name: 'x', key }] }), 401, 'unknown-key-name');
  check(() => validateToken('garbage', base), 401, 'malformed');
  const sendOnly = createToken('http://h/hc1', 'sendonly', 'another', { expiresAt: 1000 });
  check(() => validateToken(sendOnly, { ...base, rights: 'listen' }), 403, 'insufficient-rights');
});

test('bad arguments throw ERR_INTERLINK_INVALID_ARGUMENT', () => {
  const token = createToken('http://h/hc1', 'root', key);
  assert.throws(
    () => validateToken(token, { audience: 'http://h/hc1', keys: [{ name: 'root', key, rights: 'fly' }] }),
    { code: 'ERR_INTERLINK_INVALID_ARGUMENT' },
  );
  assert.throws(() => createToken('http://h/hc1', 'root', key, { ttlSeconds: -5 }), { code: ErrorCode.InvalidArgument });
});

test('ErrorCode lists the stable codes at run time', () => {
  assert.equal(ErrorCode.Refused, 'ERR_INTERLINK_REFUSED');
  assert.equal(ErrorCode.NotFound, 'ERR_INTERLINK_NOT_FOUND');
  assert.equal(ErrorCode.Timeout, 'ERR_INTERLINK_TIMEOUT');
  assert.ok(Object.values(ErrorCode).every((c) => c.startsWith('ERR_INTERLINK_')));
});
