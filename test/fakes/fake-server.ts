import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Resolves with what `found` returns once it returns something, checked now and each time one of
 * `listeners` fires (a fake server calls them as requests arrive); rejects after `timeoutMs`.
 */
export function waitUntil<T>(listeners: Set<() => void>, found: () => T | undefined, timeoutMs: number, failure: () => string): Promise<T> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const value = found();
      if (value === undefined) return;
      cleanup();
      resolve(value);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(failure()));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      listeners.delete(check);
    };
    listeners.add(check);
    check();
  });
}

/** A request to a fake provider as it arrived: method, path without the query, headers, and the form-encoded body. */
export interface ArrivedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  form: Record<string, string>;
}

export interface FakeServer {
  /** Base URL, no trailing slash. */
  url: string;
  close(): Promise<void>;
}

/**
 * A fake provider's HTTP server on a free loopback port: each request is read (form-encoded body)
 * and handed over; a handler that throws answers 500.
 */
export async function startFakeServer(handle: (request: ArrivedRequest, res: ServerResponse) => void | Promise<void>): Promise<FakeServer> {
  const server = createServer((req, res) => {
    void arrived(req)
      .then((request) => handle(request, res))
      .catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(String(error));
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Hung requests would otherwise keep close() waiting forever.
        server.closeAllConnections();
      }),
  };
}

async function arrived(req: IncomingMessage): Promise<ArrivedRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
  return { method: req.method ?? '', path: (req.url ?? '/').split('?')[0] ?? '/', headers: req.headers, form };
}
