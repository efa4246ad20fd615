// Compiled by test/hub-types.test.mjs with `tsc --strict --noEmit`: the generated index.d.ts
// types the hub API (a wrong use below is marked @ts-expect-error).
import {
  HubClient,
  HubErrorCode,
  HubServer,
  startDemoHubServer,
  type DemoHubServer,
  type HubCallContext,
  type HubStream,
} from '../../index.js';

export async function typedHub(): Promise<string> {
  const server: HubServer = await HubServer.start({
    bind: '127.0.0.1:0',
    path: '/chat',
    methods: {
      add: (ctx: HubCallContext, a: number, b: number) => a + b,
      ask: async (ctx, q: string) => (await ctx.invokeCaller('question', q)) as string,
      join: (ctx, group: string) => ctx.addToGroup(group),
    },
    streamMethods: {
      counter: async function* (ctx: HubCallContext, n: number) {
        for (let i = 0; i < n; i++) yield i;
      },
      letters: (ctx, word: string) => word.split(''),
    },
    onDisconnected: (ctx, error) => void `${ctx.connectionId} ${error ?? ''}`,
    keepAliveIntervalMs: 15000,
    statefulReconnect: false,
  });
  const client = new HubClient(server.url, { protocol: 'messagepack', automaticReconnect: [0, 1000], headers: { 'x-a': 'b' } });
  // @ts-expect-error only 'json' and 'messagepack' exist
  new HubClient(server.url, { protocol: 'xml' });
  client.on('question', (q: string) => `re: ${q}`);
  client.onclose((error?: Error) => void error);
  client.onreconnected((id?: string) => void id);
  await client.start();
  const sum: number = await client.invoke('add', 1, 2);
  await client.send('join', 'g');
  const stream: HubStream = client.stream('counter', 3);
  for await (const item of stream) void item;
  const reached: number = server.broadcast('message', 'hi') + server.sendToGroup('g', 'message', 1) + server.clients.all.send('m');
  const ids: string[] = server.connectionIds();
  const state: 'Disconnected' | 'Connecting' | 'Connected' | 'Reconnecting' = client.state;
  // @ts-expect-error invoke needs a method name
  await client.invoke();
  const code: string = HubErrorCode.Hub;
  const demo: DemoHubServer = await startDemoHubServer({ bind: '127.0.0.1:0' });
  await client.stop();
  await server.close();
  await demo.close();
  return `${sum} ${reached} ${ids.length} ${state} ${code} ${demo.url} ${client.connectionId ?? ''}`;
}
