import { connect, type Socket } from 'node:net';
import { freePort, portOpen, waitFor } from '../faults/support/services';
import { startSandboxProcess, type SandboxProcess } from '../support/sandbox-process';

/** A USSD hop whose body is still arriving: the request is in flight until the rest is written. */
function startSlowUssdHop(port: number): { socket: Socket; finish: () => void; answer: Promise<string> } {
  const body = new URLSearchParams({ sessionId: 'shutdown-1', serviceCode: '*384*1234#', phoneNumber: '+919800000003', networkCode: '40410', text: '' }).toString();
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.on('data', (chunk) => (received += chunk.toString('utf8')));
  const answer = new Promise<string>((resolve, reject) => {
    socket.on('end', () => resolve(received));
    socket.on('error', reject);
  });
  socket.write(
    `POST /webhooks/africastalking/ussd?key=dev-webhook-secret HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body.slice(0, 10)}`,
  );
  return { socket, finish: () => socket.write(body.slice(10)), answer };
}

describe('graceful shutdown (a real process)', () => {
  let product: SandboxProcess | undefined;
  afterEach(async () => {
    await product?.close();
    product = undefined;
  });

  it('SIGTERM: new connections are refused, the hop in flight still gets its screen, exit 0', async () => {
    product = await startSandboxProcess(undefined, { env: { LOG_LEVEL: 'info' } });
    const hop = startSlowUssdHop(product.port);
    await new Promise((resolve) => setTimeout(resolve, 200));

    product.child.kill('SIGTERM');
    await waitFor('the port to stop taking connections', async () => !(await portOpen(product!.port)), 10_000);
    hop.finish();

    const answer = await hop.answer;
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK/);
    expect(answer).toMatch(/\r\n\r\nCON /);
    expect(await product.exited).toBe(0);
    expect(product.output()).toMatch(/"msg":"stopped"/);
  }, 90_000);

  it('a request still in flight after SHUTDOWN_TIMEOUT_MS is cut off: exit 1, and the log says why', async () => {
    product = await startSandboxProcess(undefined, { env: { LOG_LEVEL: 'info', SHUTDOWN_TIMEOUT_MS: '1000' } });
    const hop = startSlowUssdHop(product.port);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const signalled = Date.now();
    product.child.kill('SIGTERM');

    expect(await product.exited).toBe(1);
    expect(Date.now() - signalled).toBeLessThan(8000);
    expect(product.output()).toMatch(/still in progress after SHUTDOWN_TIMEOUT_MS/);
    hop.socket.destroy();
  }, 90_000);

  it('a worker-only process serves /metrics and /readyz on WORKER_METRICS_PORT, not PORT, and stops with exit 0', async () => {
    const metricsPort = await freePort();
    product = await startSandboxProcess([process.execPath, '--import', 'tsx', 'src/worker.ts'], { waitUntilServing: false, env: { WORKER_METRICS_PORT: String(metricsPort) } });
    const url = `http://127.0.0.1:${metricsPort}`;
    await waitFor('the worker to answer /readyz', async () => (await fetch(`${url}/readyz`).then((r) => r.status, () => 0)) === 200, 60_000);
    expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/^tika_queue_jobs\{queue="sms-sandbox",state="waiting"\} 0$/m);
    expect(await portOpen(product.port)).toBe(false);
    product.child.kill('SIGTERM');
    expect(await product.exited).toBe(0);
  }, 90_000);
});
