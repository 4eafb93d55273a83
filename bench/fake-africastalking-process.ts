/**
 * The test suite's fake Africa's Talking (test/fakes/fake-africastalking.ts, its real wire format),
 * run by bench/outbound.ts in an OS process of its own, as a provider is. It records when each
 * message arrived, and answers over IPC: its URL once listening, then counts and arrival times.
 */
import { startFakeAfricasTalking } from '../test/fakes/fake-africastalking';

export type FakeAtRequest = { id: number; type: 'received'; since?: number };
export type FakeAtReply = { type: 'listening'; url: string } | { id: number; type: 'received'; count: number; arrivals: [to: string, atMs: number][] };

async function main(): Promise<void> {
  const fake = await startFakeAfricasTalking();
  const arrivals: [string, number][] = [];
  // The fake keeps what it accepted in `sent`; its arrival time is taken as it is recorded.
  const push = fake.sent.push.bind(fake.sent);
  fake.sent.push = (...items) => {
    const now = Date.now();
    for (const item of items) arrivals.push([item.to, now]);
    return push(...items);
  };
  process.on('message', (request: FakeAtRequest) => {
    const since = request.since ?? 0;
    process.send!({ id: request.id, type: 'received', count: arrivals.length, arrivals: since < 0 ? [] : arrivals.slice(since) } satisfies FakeAtReply);
  });
  const close = () => void fake.close().finally(() => process.exit(0));
  process.once('disconnect', close);
  process.once('SIGTERM', close);
  process.send!({ type: 'listening', url: fake.url } satisfies FakeAtReply);
}

if (require.main === module) {
  if (!process.send) throw new Error('bench/fake-africastalking-process.ts runs as a child of the bench (it needs an IPC channel)');
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
