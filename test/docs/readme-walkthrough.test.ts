import { spawn } from 'node:child_process';
import { readme, walkthroughBlocks } from '../support/readme';
import { REPO, startSandboxProcess, type SandboxProcess } from '../support/sandbox-process';

/**
 * The README's "Try it by hand" is run exactly as written: every ```sh block preceded by a
 * `<!-- walkthrough ... -->` line, in order, in one bash, against the product started as a reader
 * starts it. Only BASE differs (the free port of this test). A wrong menu number, a missing step or
 * a one-liner that no longer finds the code makes a step fail, and this test with it.
 */

function runBash(script: string, env: Record<string, string>, timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const bash = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    bash.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    bash.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => bash.kill('SIGKILL'), timeoutMs);
    bash.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

describe('the README walkthrough', () => {
  const blocks = walkthroughBlocks(readme());
  let product: SandboxProcess | undefined;

  afterAll(async () => {
    await product?.close();
  });

  it('is marked: seeding, booking by USSD, the vaccinator and the certificate', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
    const script = blocks.join('\n');
    for (const step of ['npm run seed:demo', 'BASE=${BASE:-http://localhost:3000}', 'hop ', 'VAX ', '/certificates/verify']) {
      expect(script).toContain(step);
    }
    expect(script).not.toMatch(/<[a-z]+>/); // no placeholders for the reader to fill in
  });

  it('books, sends the code, records the dose and issues a certificate that verifies, as written', async () => {
    product = await startSandboxProcess();
    const { code, output } = await runBash(blocks.join('\n'), { ...product.env, BASE: product.baseUrl }, 100_000);
    if (code !== 0) {
      throw new Error(`the walkthrough stopped (bash exited ${code})\n--- its output ---\n${output}\n--- the server's output ---\n${product.output()}`);
    }
    expect(output).toContain('Created 4 centres'); // the seed ran against this test's database
    expect(output).toMatch(/^CON Choose language/m);
    expect(output).toMatch(/^END Booked: Asha Devi, AIIMS Delhi/m);
    expect(output).toMatch(/Your security code is \d{4}/);
    expect(output).toMatch(/^ACCEPTED\. Asha Devi, dose 1, Covishield, ref [0-9A-Z]{8}$/m);
    expect(output).toContain(`Certificate: ${product.baseUrl}/c/`);
    expect(output).toMatch(/^\{"valid":true,/m);
    expect(output).toMatch(/^CON टीका/m); // the Hindi main menu of the second new mobile
    expect(output).not.toMatch(/Invalid|Too many|error/i);
  }, 150_000);
});
