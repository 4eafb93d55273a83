import { createServer, type Server } from 'node:net';
import { portOpen, waitFor } from '../faults/support/services';
import { startSandboxProcess, type SandboxProcess } from '../support/sandbox-process';

/** Starting and stopping the product as an operator does, in real child processes. */
describe('starting and stopping', () => {
  let product: SandboxProcess | undefined;
  afterEach(async () => {
    await product?.close();
    product = undefined;
  });

  it('npm start: killing the pid of npm stops the server (npm runs node by exec, no shell left between)', async () => {
    product = await startSandboxProcess(['npm', 'start'], { env: { LOG_LEVEL: 'info' } });
    expect(await portOpen(product.port)).toBe(true);

    process.kill(product.child.pid!, 'SIGTERM');

    await waitFor(`port ${product.port} to close after npm was killed`, async () => !(await portOpen(product!.port)), 15_000);
    // node itself got the SIGTERM and shut down (the line may reach this process just after the port closed).
    await waitFor('the server to log that it is stopping', async () => product!.output().includes('"msg":"stopping"'), 5_000);
  }, 90_000);

  it('a port already in use: one line naming the port and what to do, exit 1, no stack trace', async () => {
    const squatter: Server = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '0.0.0.0', resolve));
    const port = (squatter.address() as { port: number }).port;
    try {
      product = await startSandboxProcess(undefined, { port, waitUntilServing: false });
      expect(await product.exited).toBe(1);

      const lines = product.output().trim().split('\n').filter((line) => !line.includes('published development secrets'));
      expect(lines).toEqual([`port ${port} is already in use: set PORT or stop the other process`]);
    } finally {
      await new Promise((resolve) => squatter.close(resolve));
    }
  }, 60_000);
});
