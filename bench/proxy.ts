/**
 * A small round-robin HTTP proxy, run as a child process of bench/scale-out.ts in front of Tika's web
 * processes (what a load balancer does in production). Each request goes to the next backend over a
 * keep-alive agent of that backend's own; the body is streamed both ways. The parent sets the
 * backends over IPC, so one run can measure 1 then 2 web processes behind the same proxy.
 */
import { Agent, createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type ProxyMessage = { type: 'backends'; origins: string[] } | { type: 'exit' };
export type ProxyReply = { type: 'listening'; port: number } | { type: 'backends-set'; count: number };

interface Backend {
  host: string;
  port: number;
  agent: Agent;
}

let backends: Backend[] = [];
let next = 0;

function backendOf(origin: string): Backend {
  const url = new URL(origin);
  // As many sockets as the load generator opens: a request never waits for a free socket here. An idle
  // socket is dropped after 4 s, before the backend's own keep-alive timeout (Node's 5 s) closes it:
  // otherwise a request sent on a socket the backend is closing fails with ECONNRESET (seen: a 502).
  return { host: url.hostname, port: Number(url.port), agent: new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 256, timeout: 4000 }) };
}

function forward(req: IncomingMessage, res: ServerResponse): void {
  if (backends.length === 0) {
    res.writeHead(503, { 'content-type': 'text/plain' }).end('no backend');
    return;
  }
  const backend = backends[next++ % backends.length]!;
  const upstream = request(
    { host: backend.host, port: backend.port, method: req.method, path: req.url, headers: req.headers, agent: backend.agent },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    },
  );
  upstream.on('error', (error) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
    res.end(`proxy: ${error.message}`);
  });
  req.pipe(upstream);
}

if (require.main === module) {
  if (!process.send) throw new Error('bench/proxy.ts runs as a child of bench/scale-out.ts (it needs an IPC channel)');
  const server = createServer(forward);
  server.keepAliveTimeout = 30_000;
  process.on('message', (message: ProxyMessage) => {
    if (message.type === 'exit') {
      server.close();
      server.closeAllConnections();
      for (const backend of backends) backend.agent.destroy();
      process.disconnect();
      return;
    }
    for (const backend of backends) backend.agent.destroy();
    backends = message.origins.map(backendOf);
    next = 0;
    process.send!({ type: 'backends-set', count: backends.length } satisfies ProxyReply);
  });
  server.listen(0, '127.0.0.1', () => process.send!({ type: 'listening', port: (server.address() as AddressInfo).port } satisfies ProxyReply));
}
