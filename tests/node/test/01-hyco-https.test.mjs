// (a) Microsoft's hyco-https listener behind our gateway, plain fetch / node:http as HTTP senders.
//
// One gateway and one hyco-https listener serve the whole file; the handler routes on the path below /hc1.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Scope,
  deferred,
  fetchAll,
  httpRequest,
  pattern,
  readAll,
  sameBytes,
  startGateway,
  startHycoHttpsListener,
  withTimeout,
} from '../lib/harness.mjs';

const scope = new Scope();
let gw;
let sbAuth; // a Send token for hc1
const seen = []; // {method, url, headers, bodyLength} of every request the listener got
let hold = null; // the concurrency test's collector

function handler(req, res) {
  readAll(req)
    .then((body) => {
      seen.push({ method: req.method, url: req.url, headers: { ...req.headers }, bodyLength: body.length });
      const u = new URL(req.url, 'http://listener.invalid');
      const route = u.pathname.replace(/^\/hc1/, '');
      if (route.startsWith('/info')) {
        const json = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bodyLength: body.length });
        res.setHeader('content-type', 'application/json');
        res.setHeader('x-custom', 'hello-from-listener');
        if (req.method === 'HEAD') {
          res.setHeader('x-would-be-length', String(Buffer.byteLength(json)));
          return res.end();
        }
        return res.end(json);
      }
      if (route === '/echo') {
        res.setHeader('content-type', 'application/octet-stream');
        res.setHeader('content-length', String(body.length));
        res.setHeader('x-received-length', String(body.length));
        return res.end(body);
      }
      if (route === '/nocontent') {
        res.statusCode = 204;
        return res.end();
      }
      if (route === '/big') {
        const data = pattern(Number(u.searchParams.get('size')), Number(u.searchParams.get('seed') ?? 0));
        res.setHeader('content-type', 'application/octet-stream');
        res.setHeader('content-length', String(data.length));
        return res.end(data);
      }
      if (route === '/status') {
        res.writeHead(Number(u.searchParams.get('code')), u.searchParams.get('reason'), { 'content-type': 'text/plain' });
        return res.end('status body');
      }
      if (route === '/hold') {
        // Answered later by the concurrency test, in reverse arrival order.
        return hold.add(Number(u.searchParams.get('i')), res);
      }
      res.statusCode = 404;
      res.end('no such route');
    })
    .catch((e) => {
      res.statusCode = 500;
      res.end(`listener handler error: ${e.message}`);
    });
}

before(async () => {
  gw = await startGateway(scope, { hybridConnections: ['hc1'] });
  await startHycoHttpsListener(scope, gw, handler, { hc: 'hc1', rule: 'listenonly' });
  sbAuth = gw.token('hc1', 'sendonly');
});

after(() => scope.close());

const lastSeen = (pathPrefix) => {
  const r = [...seen].reverse().find((s) => s.url.startsWith(pathPrefix));
  assert.ok(r, `the listener never received a request for ${pathPrefix}`);
  return r;
};

test('GET: status, custom response header, body; app query and suffix kept, sb-hc-* removed', async () => {
  const { res, body } = await fetchAll(gw.httpUrl('hc1', '/info/deeper/path?a=1&sb-hc-id=trace-1&b=x%20y'), {
    headers: { ServiceBusAuthorization: sbAuth, 'X-Test': 'abc' },
  });
  assert.equal(res.status, 200, `body: ${body}`);
  assert.equal(res.headers.get('x-custom'), 'hello-from-listener');
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  const info = JSON.parse(body.toString());
  assert.equal(info.method, 'GET');
  assert.ok(info.url.startsWith('/hc1/'), `req.url should start with /hc1/: ${info.url}`);
  assert.equal(info.url, '/hc1/info/deeper/path?a=1&b=x%20y');
  assert.equal(info.headers['x-test'], 'abc');
});

test('query filtering follows the service: only sb-hc-* parameters with "=" are removed', async () => {
  const cases = [
    ['/info?sb-hc-id=only', '/hc1/info'],
    ['/info?a=1&a=2&', '/hc1/info?a=1&a=2&'],
    ['/info?sb-hc-x&c=3', '/hc1/info?sb-hc-x&c=3'],
    ['/info?x=1&sb-hc-action=request&sb-hc-whatever=zz&y=2', '/hc1/info?x=1&y=2'],
  ];
  for (const [sent, expected] of cases) {
    const { res, body } = await fetchAll(gw.httpUrl('hc1', sent), { headers: { ServiceBusAuthorization: sbAuth } });
    assert.equal(res.status, 200, `${sent}: ${body}`);
    assert.equal(JSON.parse(body.toString()).url, expected, `query ${sent}`);
  }
});

test('POST: small body echoed byte-exact', async () => {
  const payload = Buffer.from('hello relay \u00e9\u4e16\n'.repeat(20));
  const { res, body } = await fetchAll(gw.httpUrl('hc1', '/echo'), {
    method: 'POST',
    headers: { ServiceBusAuthorization: sbAuth, 'content-type': 'text/plain; charset=utf-8' },
    body: payload,
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-received-length'), String(payload.length));
  assert.equal(sameBytes(body, payload), null);
  const s = lastSeen('/hc1/echo');
  assert.equal(s.method, 'POST');
  assert.equal(s.headers['content-type'], 'text/plain; charset=utf-8');
});

test('HEAD: status and headers, no body', async () => {
  const { res, body } = await fetchAll(gw.httpUrl('hc1', '/info'), {
    method: 'HEAD',
    headers: { ServiceBusAuthorization: sbAuth },
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('x-custom'), 'hello-from-listener');
  assert.ok(Number(res.headers.get('x-would-be-length')) > 0);
  assert.equal(body.length, 0);
  assert.equal(lastSeen('/hc1/info').method, 'HEAD');
});

test('204: empty response, and the listener keeps working afterwards', async () => {
  const { res, body } = await fetchAll(gw.httpUrl('hc1', '/nocontent'), { headers: { ServiceBusAuthorization: sbAuth } });
  assert.equal(res.status, 204);
  assert.equal(body.length, 0);
  // hyco-https sends a stray 0-byte binary message after a body-less response: the channel must survive it.
  const again = await fetchAll(gw.httpUrl('hc1', '/info?after=204'), { headers: { ServiceBusAuthorization: sbAuth } });
  assert.equal(again.res.status, 200);
  assert.equal(JSON.parse(again.body.toString()).url, '/hc1/info?after=204');
});

test('70 KB response (listener-initiated rendezvous) arrives byte-exact', async () => {
  const size = 70 * 1024;
  const { res, body } = await fetchAll(gw.httpUrl('hc1', `/big?size=${size}&seed=7`), {
    headers: { ServiceBusAuthorization: sbAuth },
  });
  assert.equal(res.status, 200);
  assert.equal(sameBytes(body, pattern(size, 7)), null);
});

test('100 KB request body (relay-initiated rendezvous) reaches the listener and is echoed byte-exact', async () => {
  const payload = pattern(100 * 1024, 3);
  const { res, body } = await fetchAll(gw.httpUrl('hc1', '/echo?big=1'), {
    method: 'POST',
    headers: { ServiceBusAuthorization: sbAuth, 'content-type': 'application/octet-stream' },
    body: payload,
  });
  assert.equal(res.status, 200, `body: ${body.subarray(0, 200)}`);
  assert.equal(res.headers.get('x-received-length'), String(payload.length));
  assert.equal(sameBytes(body, payload), null);
  const s = lastSeen('/hc1/echo?big=1');
  assert.equal(s.method, 'POST');
  assert.equal(s.bodyLength, payload.length);
});

test('custom status code and reason phrase pass through', async () => {
  for (const [code, reason] of [
    [299, 'Fine And Dandy'],
    [503, 'Down For Tea'],
    [418, 'Short And Stout'],
  ]) {
    const { res, body } = await fetchAll(
      gw.httpUrl('hc1', `/status?code=${code}&reason=${encodeURIComponent(reason)}`),
      { headers: { ServiceBusAuthorization: sbAuth } },
    );
    assert.equal(res.status, code);
    assert.equal(res.statusText, reason);
    assert.equal(body.toString(), 'status body');
  }
});

test('the response carries a Via header', async () => {
  const { res } = await fetchAll(gw.httpUrl('hc1', '/info?via'), { headers: { ServiceBusAuthorization: sbAuth } });
  assert.equal(res.status, 200);
  const via = res.headers.get('via');
  assert.ok(via && via.trim().length > 0, `expected a Via header, got ${via}`);
});

test('hop-by-hop headers and the ServiceBusAuthorization header do not reach the listener', async () => {
  const r = await httpRequest(gw.httpUrl('hc1', '/info?hop'), {
    method: 'POST',
    headers: {
      ServiceBusAuthorization: sbAuth,
      Connection: 'keep-alive',
      TE: 'trailers',
      Trailer: 'X-Never-Sent',
      'X-Survivor': 'still-here',
      'Content-Type': 'text/plain',
    },
    body: ['chunked ', 'request ', 'body'], // sent with Transfer-Encoding: chunked
  });
  assert.equal(r.status, 200, `body: ${r.body}`);
  const info = JSON.parse(r.body.toString());
  const h = info.headers;
  for (const name of ['connection', 'te', 'trailer', 'transfer-encoding', 'host', 'content-length', 'servicebusauthorization']) {
    assert.equal(h[name], undefined, `header ${name} must not reach the listener (got ${JSON.stringify(h[name])})`);
  }
  assert.equal(h['x-survivor'], 'still-here');
  assert.equal(h['content-type'], 'text/plain');
  assert.equal(info.bodyLength, 'chunked request body'.length);
});

test('Authorization passes through when ServiceBusAuthorization carries the relay token', async () => {
  const r = await httpRequest(gw.httpUrl('hc1', '/info?appauth'), {
    headers: { ServiceBusAuthorization: sbAuth, Authorization: 'Bearer app-level-token' },
  });
  assert.equal(r.status, 200, `body: ${r.body}`);
  const h = JSON.parse(r.body.toString()).headers;
  assert.equal(h.authorization, 'Bearer app-level-token');
  assert.equal(h.servicebusauthorization, undefined);
});

test('a token in the sb-hc-token query parameter is accepted and removed', async () => {
  const { res, body } = await fetchAll(gw.httpUrl('hc1', `/info?q=1&sb-hc-token=${encodeURIComponent(sbAuth)}`));
  assert.equal(res.status, 200, `body: ${body}`);
  const info = JSON.parse(body.toString());
  assert.equal(info.url, '/hc1/info?q=1');
  assert.equal(info.headers.servicebusauthorization, undefined);
});

test('repeated request headers are joined with ", "', async () => {
  const r = await httpRequest(gw.httpUrl('hc1', '/info?multi'), {
    headers: { ServiceBusAuthorization: sbAuth, 'X-Multi': ['one', 'two', 'three'] },
  });
  assert.equal(r.status, 200, `body: ${r.body}`);
  assert.equal(JSON.parse(r.body.toString()).headers['x-multi'], 'one, two, three');
});

test('concurrent requests are answered out of order and each sender gets its own response', async () => {
  const n = 8;
  const all = deferred();
  const pending = new Map();
  hold = {
    add(i, res) {
      pending.set(i, res);
      if (pending.size === n) all.resolve();
    },
  };
  try {
    const requests = Array.from({ length: n }, (_, i) =>
      fetchAll(gw.httpUrl('hc1', `/hold?i=${i}`), { headers: { ServiceBusAuthorization: sbAuth } }),
    );
    for (const r of requests) r.catch(() => {}); // failures are reported by Promise.all below, or by the timeout
    await withTimeout(
      all.promise,
      20000,
      `all ${n} concurrent requests to reach the listener before any is answered (got ${pending.size}); ` +
        'a relay must not serialise requests on one listener',
    );
    for (let i = n - 1; i >= 0; i--) pending.get(i).end(`response-${i}`);
    const results = await Promise.all(requests);
    results.forEach(({ res, body }, i) => {
      assert.equal(res.status, 200);
      assert.equal(body.toString(), `response-${i}`);
    });
  } finally {
    for (const res of pending.values()) if (!res.finished) res.end();
    hold = null;
  }
});
