// A hyco-ws (Microsoft's Node package) listener for the Python interop tests.
//
// Usage: node hyco_ws_listener.cjs WS_BASE HYBRID_CONNECTION RULE KEY
// Listens on ws://…/$hc/HC with a token from hyco's own createRelayToken, echoes text as
// "hyco: TEXT" and binary as is, prints "ready TOKEN" (a fresh hyco token, for comparison)
// once its control channel is up, and exits when stdin closes.
'use strict';
const path = require('node:path');

const nodeModules = process.env.INTERLINK_NODE_MODULES || path.resolve(__dirname, '../../../tests/node/node_modules');
const hycoWs = require(path.join(nodeModules, 'hyco-ws'));

const [wsBase, hc, rule, key] = process.argv.slice(2);
const base = `${wsBase}/$hc/${hc}`;
const server = hycoWs.createRelayedServer(
  { server: `${base}?sb-hc-action=listen`, token: () => hycoWs.createRelayToken(base, rule, key) },
  (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, flags) => {
      if (flags && flags.binary) ws.send(data, { binary: true });
      else ws.send(`hyco: ${data}`);
    });
  },
);
server.on('error', (e) => console.error(`hyco-ws listener error: ${(e && e.message) || e}`));
server.once('listening', () => console.log(`ready ${hycoWs.createRelayToken(base, rule, key, 600)}`));
process.stdin.on('end', () => {
  try {
    server.close();
  } finally {
    setTimeout(() => process.exit(0), 100);
  }
});
process.stdin.resume();
