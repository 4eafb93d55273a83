import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { eventually, startTestApp, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';

/**
 * A real worker process (src/worker.ts) killed with SIGKILL between the acceptance of a dose and
 * the confirmation SMS. After a new worker starts, the citizen gets exactly one confirmation and
 * exactly one certificate exists. The web server runs in this test's process; the workers do not.
 */
const ROOT = join(__dirname, '..', '..');
let t: TestApp;
const workers: ChildProcess[] = [];

beforeAll(async () => {
  t = await startTestApp({ QUEUE_LOCK_MS: '1000', AT_TIMEOUT_MS: '60000' }, { worker: false });
});
afterAll(async () => {
  for (const worker of workers) worker.kill('SIGKILL');
  await t.close();
});

/** Starts `tsx src/worker.ts` on the test's database, Redis prefix and fake provider; resolves when it runs. */
async function startWorkerProcess(): Promise<ChildProcess> {
  // node itself with tsx as a loader: the tsx command would run the worker in a grandchild that SIGKILL misses.
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/worker.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...t.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start:\n${output}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Tika worker running')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => reject(new Error(`worker exited (${code}) before starting:\n${output}`)));
  });
  return child;
}

async function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

it('a worker killed after the acceptance and before the confirmation SMS: one SMS and one certificate after restart', async () => {
  const { centre } = await seedCentre(t.app, { name: 'Crash Centre', pincode: '560010', daysFromToday: 0 });
  const vaccinator = await t.app.programme.createVaccinator({ phone: '+919700088001', name: 'Nurse Crash', centreId: centre.id });
  const phone = '+919600088001';

  const first = await startWorkerProcess();
  const booked = await t.converse('ATUid_crash', phone, [...registration('Crash Citizen', pan(88_001)), '560010', '1', '1', '1']);
  expect(booked.at(-1)).toMatch(/^END Booked:/);
  const codeSms = await eventually('the code SMS', async () => t.at.sent.find((s) => s.to === phone));
  const code = /security code is (\d{4})/.exec(codeSms.message)![1]!;
  t.at.reset();

  // The provider never answers the confirmation: the worker is inside the send when it dies.
  t.at.respondTo(phone, { hang: true });
  await t.incomingSms(vaccinator.phone, `VAX ${phone} ${code}`);
  await t.at.waitForRequestTo(phone, 20_000);
  await killed(first);

  const appointment = await t.app.db('appointments').where('reference', /Ref ([A-Z2-9]{8})/.exec(booked.at(-1)!)![1]!).first();
  expect(appointment.status).toBe('vaccinated');
  const certificates = () => t.app.db('certificates').where('beneficiary_id', appointment.beneficiary_id);
  expect(await certificates()).toEqual([expect.objectContaining({ status: 'issued' })]);
  expect(t.at.sent.filter((s) => s.to === phone)).toEqual([]);

  await startWorkerProcess();
  const confirmation = await eventually('the confirmation after restart', async () => t.at.sent.find((s) => s.to === phone), 20_000);
  expect(confirmation.message).toMatch(/Tika: Crash Citizen vaccinated \(dose 1\)\. Certificate: http:\/\/tika\.test\/c\/[a-z0-9]+$/);
  await new Promise((resolve) => setTimeout(resolve, 2500));
  expect(t.at.sent.filter((s) => s.to === phone)).toHaveLength(1);
  expect(t.at.sent.filter((s) => s.to === vaccinator.phone)).toHaveLength(1);
  const issued = await certificates();
  expect(issued).toHaveLength(1);
  expect(confirmation.message).toContain(`/c/${issued[0].id}`);
  const row = await t.app.db('outbound_messages').where('dedupe_key', `confirm-${issued[0].id}`).first();
  expect(row).toMatchObject({ status: 'sent', attempts: 2 });
});
