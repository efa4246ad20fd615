// The README's "use it from Node" example; test/06-package.test.mjs runs it against the
// package installed from its `npm pack` tarball.
import { Gateway, RelayListener, RelaySender } from 'interlink';

// A relay gateway on 127.0.0.1 (OS-chosen port) and a listener behind it.
const gateway = await Gateway.start();
const listener = await RelayListener.bind(gateway.connectionString, 'hello');
listener.setHttpHandler(async (req) => ({
  status: 200,
  headers: { 'content-type': 'text/plain' },
  body: `hi, ${req.method} ${req.url} (${req.body.length} bytes)`,
}));
(async () => {
  // Echo every WebSocket message back.
  for (let socket; (socket = await listener.accept()) !== null; ) {
    for (let m; (m = await socket.receive()) !== null; ) await socket.send(m);
  }
})();

// A sender reaches the listener through the relay: HTTP and WebSocket.
const sender = new RelaySender(gateway.connectionString, 'hello');
const res = await sender.request({ method: 'POST', path: '/greet?lang=en', body: 'hey' });
console.log(res.status, res.body.toString()); // 200 hi, POST /hello/greet?lang=en (3 bytes)

const ws = await sender.connect('chat');
await ws.send('ping');
console.log(await ws.receive()); // ping
await ws.close(1000, 'bye');

try {
  await new RelaySender(gateway.connectionString, 'nobody').connect();
} catch (err) {
  console.log(err.code, err.status); // ERR_INTERLINK_REFUSED 404
}

await listener.close();
await gateway.shutdown();
