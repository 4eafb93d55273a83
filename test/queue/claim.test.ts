import { CODE_TEMPLATE } from '../../src/domain/booking';
import { CodeVault } from '../../src/domain/codes';
import { startTestApp, type TestApp } from '../support/app';
import { seedGuessingCentre } from '../support/guessing';

/**
 * OutboundService.claim, the worker's first step for every SMS, on real rows: with no worker
 * running, so each claim here is the only one.
 */
/** An attempt is never taken to be in flight: each claim may take the message. */
const NO_WAIT = 0;

describe('claiming an outbound message', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({}, { worker: false });
  });
  afterAll(() => t.close());

  const codeSmsOf = async (appointmentId: number) =>
    t.app.db('outbound_messages').where({ appointment_id: appointmentId, template: CODE_TEMPLATE }).first('id', 'status', 'attempts', 'last_error');

  test('a code SMS is taken for sending with its code, once per attempt', async () => {
    const { bookings } = await seedGuessingCentre(t.app, { bookings: 1 });
    const booking = bookings[0]!;
    const before = await codeSmsOf(booking.appointmentId);
    expect(before).toMatchObject({ status: 'pending', attempts: 0 });

    const claim = await t.app.outbound.claim(before.id, NO_WAIT);
    expect(claim).toEqual({
      kind: 'send',
      message: expect.objectContaining({ id: before.id, phone: booking.phone, language: 'en', template: CODE_TEMPLATE, params: expect.objectContaining({ code: booking.code, ref: booking.reference }) }),
    });
    expect(await codeSmsOf(booking.appointmentId)).toMatchObject({ status: 'sending', attempts: 1 });
    // A retry claims again (the status is not final yet) and counts the attempt.
    expect((await t.app.outbound.claim(before.id, NO_WAIT)).kind).toBe('send');
    expect(await codeSmsOf(booking.appointmentId)).toMatchObject({ status: 'sending', attempts: 2 });
  });

  test('a message another attempt claimed moments ago is left to it; once that attempt is overdue, it is taken again', async () => {
    const { bookings } = await seedGuessingCentre(t.app, { bookings: 1 });
    const message = await codeSmsOf(bookings[0]!.appointmentId);
    expect((await t.app.outbound.claim(message.id, 60_000)).kind).toBe('send');
    // A second job for it (a lapsed lock ran it again) while the first may still be sending.
    expect(await t.app.outbound.claim(message.id, 60_000)).toEqual({ kind: 'in_flight' });
    expect(await codeSmsOf(bookings[0]!.appointmentId)).toMatchObject({ status: 'sending', attempts: 1 });
    // The first attempt's worker died: a minute later its claim is overdue.
    await t.app.db('outbound_messages').where('id', message.id).update({ updated_at: t.app.db.raw("now() - interval '61 seconds'") });
    expect((await t.app.outbound.claim(message.id, 60_000)).kind).toBe('send');
    expect(await codeSmsOf(bookings[0]!.appointmentId)).toMatchObject({ status: 'sending', attempts: 2 });
  });

  test('a code SMS whose appointment was cancelled is skipped, in words, without sending or counting an attempt', async () => {
    const { bookings } = await seedGuessingCentre(t.app, { bookings: 1 });
    const booking = bookings[0]!;
    expect((await t.app.booking.cancel(booking.phone, booking.appointmentId)).kind).toBe('cancelled');
    const message = await codeSmsOf(booking.appointmentId);

    expect(await t.app.outbound.claim(message.id, NO_WAIT)).toEqual({ kind: 'skipped', reason: 'appointment no longer booked' });
    expect(await codeSmsOf(booking.appointmentId)).toMatchObject({ status: 'skipped', attempts: 0, last_error: 'appointment no longer booked' });
    // Skipped is final: claiming again changes nothing.
    expect(await t.app.outbound.claim(message.id, NO_WAIT)).toEqual({ kind: 'already_done', status: 'skipped' });
  });

  test('a message that does not exist, or is already sent, is not sent', async () => {
    expect(await t.app.outbound.claim(987_654_321, NO_WAIT)).toEqual({ kind: 'skipped', reason: 'no such message' });
    const { bookings } = await seedGuessingCentre(t.app, { bookings: 1 });
    const message = await codeSmsOf(bookings[0]!.appointmentId);
    await t.app.db('outbound_messages').where('id', message.id).update({ status: 'sent' });
    expect(await t.app.outbound.claim(message.id, NO_WAIT)).toEqual({ kind: 'already_done', status: 'sent' });
    expect(await codeSmsOf(bookings[0]!.appointmentId)).toMatchObject({ status: 'sent', attempts: 0 });
  });

  test('the code in a claimed message is the one whose HMAC the appointment stores', async () => {
    const { bookings } = await seedGuessingCentre(t.app, { bookings: 1 });
    const booking = bookings[0]!;
    const claim = await t.app.outbound.claim((await codeSmsOf(booking.appointmentId)).id, NO_WAIT);
    if (claim.kind !== 'send') throw new Error(`expected a send, got ${claim.kind}`);
    const stored = await t.app.db('appointments').where('id', booking.appointmentId).first('reference', 'code_hmac');
    expect(new CodeVault(t.app.config.CODE_SECRET).matches(stored.reference, String(claim.message.params.code), stored.code_hmac)).toBe(true);
  });
});
