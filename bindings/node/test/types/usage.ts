// Compiled by test/08-types.test.mjs with `tsc --strict --noEmit`: the generated index.d.ts
// gives TypeScript users full types (a wrong use below is marked @ts-expect-error).
import {
  ErrorCode,
  Gateway,
  GatewayMachine,
  RelayListener,
  RelaySender,
  createToken,
  validateToken,
  type MachineOutput,
  type RelayRequest,
  type RelayResponse,
  type RelayWebSocket,
  type SenderResponse,
} from '../../index.js';

export async function typed(): Promise<string> {
  const gateway: Gateway = await Gateway.start({ hybridConnections: ['hc1', { name: 'open', anonymous: true }] });
  const listener: RelayListener = await RelayListener.bind(gateway.connectionString, 'hc1', { acceptTimeoutMs: 5000 });
  listener.setHttpHandler(async (req: RelayRequest): Promise<RelayResponse> => ({ status: 200, body: req.body }));
  listener.setHttpHandler((req) => ({ body: req.url }));
  listener.setAcceptFilter((info) => (info.path.endsWith('/deny') ? { status: 403, description: 'no' } : true));
  // @ts-expect-error a handler must return a response object
  listener.setHttpHandler(() => 42);
  const sender = new RelaySender(gateway.connectionString, 'hc1', { timeoutMs: 1000 });
  const res: SenderResponse = await sender.request({ method: 'POST', path: '/x', body: Buffer.from('a') });
  const status: number = res.status;
  const socket: RelayWebSocket = await sender.connect('chat', { protocols: ['p1'] });
  await socket.send('text');
  const msg: string | Buffer | null = await socket.receive();
  // @ts-expect-error receive() may give null
  const notNull: string | Buffer = await socket.receive();
  await socket.close(1000, 'bye');
  const m = new GatewayMachine({ seed: 1 });
  m.handleUpgrade(0, 1, { path: '/$hc/hc1', query: 'sb-hc-action=listen', host: 'h', headers: [['a', 'b']] });
  const out: MachineOutput | null = m.pollOutput();
  if (out?.type === 'upgrade') {
    const pair: number | undefined = out.pairWith;
    void pair;
  } else if (out?.type === 'sendText') {
    const text: string = out.text;
    void text;
  }
  const t: string = createToken('http://h/hc1', 'root', 'key', { ttlSeconds: 60 });
  const ok = validateToken(t, { audience: 'http://h/hc1', keys: [{ name: 'root', key: 'key' }] });
  const code: string = ErrorCode.Refused;
  await listener.close();
  await gateway.shutdown();
  return `${status} ${String(msg)} ${String(notNull)} ${ok.keyName} ${code}`;
}
