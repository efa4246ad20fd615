// (g) A streaming response reaches the sender piece by piece.
//
// Our Rust listener (`interlink expose`) fronts a local Node server that writes server-sent events. The origin writes
// event 1 and then WAITS until the test has received event 1 through the relay before it writes event 2, and so on.
// If the relay (or expose) buffered the response, event 1 would never arrive, the origin would never write event 2,
// and the test would fail on its timeout: piecewise delivery is proven without any timing assertion.
//
// The same test with a hyco-https listener is deliberately NOT included: hyco-https 1.4.5 buffers a response on the
// control channel until end() (known upstream bug, Azure/azure-relay-node#98 "SSE support in hyco-http"), so it
// cannot stream whatever the relay does.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Scope, deferred, startExpose, startGateway, startOrigin, withTimeout } from '../lib/harness.mjs';

const EVENTS = 5;
const scope = new Scope();
let gw;
let received = []; // received[i] resolves when the test got event i (1-based)
let originDone = deferred();

function originHandler(req, res) {
  if (!req.url.includes('events')) {
    res.statusCode = 404;
    return res.end();
  }
  (async () => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.flushHeaders();
    for (let i = 1; i <= EVENTS; i++) {
      if (i > 1) await received[i - 1].promise; // hold event i back until event i-1 went through the relay
      if (res.destroyed) return;
      res.write(`id: ${i}\ndata: event ${i}\n\n`);
    }
    res.end();
    originDone.resolve();
  })().catch(() => res.destroy());
}

before(async () => {
  gw = await startGateway(scope, { hybridConnections: ['hc1'] });
  const origin = await startOrigin(scope, originHandler, { wsEcho: false });
  await startExpose(scope, gw, { hc: 'hc1', to: origin.url });
});

after(() => scope.close());

/** Reads server-sent events from a fetch body, one at a time. */
function sseReader(body) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  return {
    async next() {
      for (;;) {
        const sep = buf.indexOf('\n\n');
        if (sep >= 0) {
          const raw = buf.slice(0, sep);
          buf = buf.slice(sep + 2);
          const data = raw
            .split('\n')
            .filter((l) => l.startsWith('data:'))
            .map((l) => l.slice(5).trimStart())
            .join('\n');
          return { data };
        }
        const { value, done } = await reader.read();
        if (done) return null;
        buf += decoder.decode(value, { stream: true }).replace(/\r\n/g, '\n');
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}

test('server-sent events through interlink expose arrive one by one', { timeout: 120000 }, async (t) => {
  received = Array.from({ length: EVENTS + 1 }, () => deferred());
  originDone = deferred();
  const ac = new AbortController();
  t.after(() => ac.abort());

  const res = await withTimeout(
    fetch(gw.httpUrl('hc1', '/events'), {
      headers: { ServiceBusAuthorization: gw.token('hc1', 'sendonly'), Accept: 'text/event-stream' },
      signal: ac.signal,
    }),
    20000,
    'the response headers of the streaming response (a relay that waits for the whole body never sends them)',
  );
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);

  const events = sseReader(res.body);
  t.after(() => events.cancel());
  for (let i = 1; i <= EVENTS; i++) {
    const ev = await withTimeout(
      events.next(),
      20000,
      `event ${i} to arrive through the relay; the origin holds event ${i + 1} back until then, ` +
        'so a relay or listener that buffers the streaming response fails here',
    );
    assert.ok(ev, `the stream ended before event ${i}`);
    assert.equal(ev.data, `event ${i}`);
    received[i].resolve();
  }
  await withTimeout(originDone.promise, 10000, 'the origin to finish writing');
  const end = await withTimeout(events.next(), 20000, 'the end of the streamed response');
  assert.equal(end, null, 'no data expected after the last event');
});
