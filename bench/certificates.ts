/**
 * Issue 11, part 4: certificates issued and verified per second beside raw Ed25519, in the same run.
 *
 * Setup (untimed), the product's own path: members booked into a session today, each dose confirmed
 * by a registered vaccinator with the appointment's code (`app.vaccination.verify`), which records
 * the vaccination and a pending certificate. The task queue is paused meanwhile, so its worker does
 * not issue them first.
 *
 * - Issue: `app.certificates.issue(id)` (what the task worker runs: sign, store, queue the
 *   confirmation SMS, in one transaction), then the QR of the JWS rendered with the options of the
 *   certificate page (src/http/certificates.ts renders it when the page is opened), 50 in flight.
 * - Verify: `app.certificates.verify(jws)` (signature and key id, then the certificate on record),
 *   round-robin over the issued ones for BENCH_DURATION seconds, 50 in flight.
 * - Raw: node:crypto Ed25519 sign and verify of the same signing input (header.payload of an issued
 *   certificate), in a loop for BENCH_DURATION seconds each.
 * Invariants: every certificate issued once, every verification valid, a tampered JWS refused.
 */
import { generateKeyPairSync, sign as edSign, verify as edVerify } from 'node:crypto';
import QRCode from 'qrcode';
import { CodeVault } from '../src/domain/codes';
import { dayIn } from '../src/domain/dates';
import { MAX_SESSION_CAPACITY } from '../src/domain/programme';
import { bookAll, compare, inParallel, latencyRow, registerMembers, sortNumbers, type PartContext, type PartResult, type PartRow } from './parts';

/** Issue 11, part 4: issue ≥ 0.2× raw sign, verify ≥ 0.3× raw verify. */
export const CERTIFICATE_TARGETS = { issueVsSign: 0.2, verifyVsVerify: 0.3 } as const;
const VACCINATOR_PHONE = '+919180000001';

export async function benchCertificates(ctx: PartContext): Promise<PartResult> {
  const { app, log, failures, raw } = ctx;
  const rows: PartRow[] = [];
  const n = ctx.bookings;

  log(`certificates: booking ${n} members today and confirming their doses (setup)`);
  const today = dayIn(app.config.TIMEZONE, new Date());
  const centre = await app.programme.createCentre({ name: 'Bench Certificates', pincode: '110031', district: 'New Delhi', state: 'Delhi' });
  // All day, so the bench can run at any hour (booking closes at the end time).
  const session = await app.programme.createSession({ centreId: centre.id, date: today, vaccine: 'Covishield', minAge: 18, dose: 1, capacity: MAX_SESSION_CAPACITY, startTime: '00:00', endTime: '24:00' });
  await app.programme.createVaccinator({ phone: VACCINATOR_PHONE, name: 'Bench Vaccinator', centreId: centre.id });
  const members = await registerMembers(app, '9180', n);
  const booked = await bookAll(app, members, [session.id], ctx.concurrency);
  if ((booked.kinds.booked ?? 0) !== n) throw new Error(`certificates setup: expected ${n} booked, got ${JSON.stringify(booked.kinds)}`);

  const codes = new CodeVault(app.config.CODE_SECRET);
  const appointments: { reference: string; code_cipher: string }[] = await app.db('appointments').where({ session_id: session.id, status: 'booked' }).select('reference', 'code_cipher');
  const tasks = app.taskQueue;
  const sms = app.smsQueues.get('sandbox')!;
  await tasks.pause();
  let issued: { id: string; jws: string }[] = [];
  try {
    const accepted = await inParallel(appointments, 10, async (a) =>
      app.vaccination.verify({ vaccinatorPhone: VACCINATOR_PHONE, target: { kind: 'reference', reference: a.reference }, code: codes.decrypt(a.code_cipher), channel: 'sms' }),
    );
    const ids = accepted.flatMap((r) => (r.kind === 'accepted' ? [r.certificateId] : []));
    if (ids.length !== n) throw new Error(`certificates setup: ${ids.length} of ${n} doses accepted (${JSON.stringify(accepted.find((r) => r.kind !== 'accepted'))})`);

    // Issue (+ QR), the confirmation SMS held in its queue so the SMS worker does not compete.
    log(`certificates: issuing ${n} (sign, store, QR), ${ctx.concurrency} in flight`);
    await sms.pause();
    const latencies: number[] = [];
    const kinds: Record<string, number> = {};
    let issueMs = 0;
    let qrMs = 0;
    const startedAt = Date.now();
    try {
      issued = (
        await inParallel(ids, ctx.concurrency, async (id) => {
          const t0 = performance.now();
          const result = await app.certificates.issue(id);
          kinds[result.kind] = (kinds[result.kind] ?? 0) + 1;
          if (result.kind !== 'issued') return [];
          const t1 = performance.now();
          // As the certificate page renders it.
          await QRCode.toString(result.certificate.jws, { type: 'svg', errorCorrectionLevel: 'L', margin: 2 });
          const t2 = performance.now();
          issueMs += t1 - t0;
          qrMs += t2 - t1;
          latencies.push(Math.round(t2 - t0));
          return [{ id, jws: result.certificate.jws }];
        })
      ).flat();
    } finally {
      await sms.resume();
    }
    const issueSeconds = (Date.now() - startedAt) / 1000;
    if (issued.length !== n) failures.push(`certificates: ${issued.length} of ${n} issued (${JSON.stringify(kinds)})`);
    rows.push(latencyRow('tika: certificate issue (sign, store, QR)', 'cert/s', sortNumbers(latencies), issueSeconds, `certificates.issue (one transaction: read, sign, update, outbox row) + the page's QR of the JWS; ${ctx.concurrency} in flight; mean ${(issueMs / n).toFixed(1)} ms in issue, ${(qrMs / n).toFixed(1)} ms in the QR (wall time, overlapping)`));
  } finally {
    await tasks.resume();
  }
  const [{ n: issuedRows }] = (await app.db('certificates').whereIn('id', issued.map((c) => c.id)).andWhere({ status: 'issued' }).count({ n: '*' })) as [{ n: string }];
  if (Number(issuedRows) !== n) failures.push(`certificates: ${issuedRows} certificates stored as issued for ${n}`);
  if (issued.length === 0) throw new Error('certificates: none issued, nothing to verify');

  // Verify, round-robin over the issued certificates for the duration.
  log(`certificates: verifying for ${ctx.durationSec} s, ${ctx.concurrency} in flight`);
  const verifyLatencies: number[] = [];
  let invalid = 0;
  let next = 0;
  const deadline = Date.now() + ctx.durationSec * 1000;
  const verifyStarted = Date.now();
  await Promise.all(
    Array.from({ length: ctx.concurrency }, async () => {
      while (Date.now() < deadline) {
        const certificate = issued[next++ % issued.length]!;
        const t0 = Date.now();
        const result = await app.certificates.verify(certificate.jws);
        verifyLatencies.push(Date.now() - t0);
        if (!result.valid || result.claims.jti !== certificate.id) invalid++;
      }
    }),
  );
  const verifySeconds = (Date.now() - verifyStarted) / 1000;
  if (invalid) failures.push(`certificates: ${invalid} verifications of issued certificates were not valid`);
  const tampered = tamper(issued[0]!.jws);
  const tamperedResult = await app.certificates.verify(tampered);
  if (tamperedResult.valid) failures.push('certificates: a JWS with a changed signature verified as valid');
  const verifyRow = latencyRow('tika: certificate verify', 'verify/s', sortNumbers(verifyLatencies), verifySeconds, `certificates.verify (signature, key id, certificate on record: 1 SQL), round-robin over ${issued.length}`);
  rows.push(verifyRow);

  // Raw Ed25519 over the same signing input.
  const signingInput = Buffer.from(issued[0]!.jws.split('.').slice(0, 2).join('.'));
  const rawFigures = rawEd25519(signingInput, ctx.durationSec);
  rows.push({ ...latencyRow('raw Ed25519 sign (node:crypto)', 'sign/s', [], rawFigures.sign.seconds, `${signingInput.length}-byte signing input, one after another`, rawFigures.sign.count), p50: NaN, p97_5: NaN, p99: NaN });
  rows.push({ ...latencyRow('raw Ed25519 verify (node:crypto)', 'verify/s', [], rawFigures.verify.seconds, `${signingInput.length}-byte signing input, one after another`, rawFigures.verify.count), p50: NaN, p97_5: NaN, p99: NaN });
  if (rawFigures.verify.failed) failures.push(`certificates: raw Ed25519 verify failed ${rawFigures.verify.failed} times`);
  raw.certificates = { issued: issued.length, invalidVerifications: invalid, tamperedRefused: !tamperedResult.valid, signingInputBytes: signingInput.length, jwsBytes: issued[0]!.jws.length };

  const issueRow = rows[0]!;
  const comparisons = [
    compare('certificates', 'issue (sign, store, QR)', { label: 'tika', rate: issueRow.rate, unit: 'cert/s', p99: issueRow.p99 }, { label: 'raw Ed25519 sign', rate: rawFigures.sign.count / rawFigures.sign.seconds, unit: 'sign/s' }, { ratio: CERTIFICATE_TARGETS.issueVsSign }),
    compare('certificates', 'verify', { label: 'tika', rate: verifyRow.rate, unit: 'verify/s', p99: verifyRow.p99 }, { label: 'raw Ed25519 verify', rate: rawFigures.verify.count / rawFigures.verify.seconds, unit: 'verify/s' }, { ratio: CERTIFICATE_TARGETS.verifyVsVerify }),
  ];
  return { rows, comparisons };
}

/** The same JWS with its signature's first character changed. */
function tamper(jws: string): string {
  const [header, payload, signature] = jws.split('.') as [string, string, string];
  return `${header}.${payload}.${signature[0] === 'A' ? 'B' : 'A'}${signature.slice(1)}`;
}

function rawEd25519(data: Buffer, durationSec: number): { sign: { count: number; seconds: number }; verify: { count: number; seconds: number; failed: number } } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const loop = (op: () => void) => {
    let count = 0;
    const started = performance.now();
    const until = started + durationSec * 1000;
    // Checking the clock every 100 operations keeps its cost out of the figure.
    while (performance.now() < until) {
      for (let i = 0; i < 100; i++) op();
      count += 100;
    }
    return { count, seconds: (performance.now() - started) / 1000 };
  };
  const signature = edSign(null, data, privateKey);
  const sign = loop(() => void edSign(null, data, privateKey));
  let failed = 0;
  const verify = loop(() => {
    if (!edVerify(null, data, publicKey, signature)) failed++;
  });
  return { sign, verify: { ...verify, failed } };
}
