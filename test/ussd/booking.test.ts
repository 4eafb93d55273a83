import { addDays, dayIn } from '../../src/domain/dates';
import { eventually, startTestApp, TEST_API_KEY, type TestApp } from '../support/app';
import { pan, registration, seedCentre } from '../support/programme';

describe('booking over Africa\'s Talking USSD', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });
  beforeEach(() => t.at.reset());

  it('books from the first dial to an SMS whose code matches the stored HMAC', async () => {
    const { centre, session } = await seedCentre(t.app, { capacity: 10 });
    const phone = '+919876543210';
    const answers = [...registration('Asha Devi', pan(1)), '110001', '1', '1', '1'];
    const screens = await t.converse('ATUid_happy', phone, answers);

    expect(screens[0]).toBe('CON Choose language / भाषा चुनें\n1 English\n2 हिन्दी');
    expect(screens[1]).toBe('CON Tika vaccination\n1 Book vaccination\n2 My appointments\n3 Language');
    expect(screens.at(-2)).toMatch(/^CON Book Asha Devi\nAIIMS Delhi\n.+Covishield dose 1\n1 Confirm/);
    const end = screens.at(-1)!;
    expect(end).toMatch(/^END Booked: Asha Devi, AIIMS Delhi, .+\. Ref [A-Z2-9]{8}\. Code sent by SMS\.$/);
    expect(end).not.toMatch(/\b\d{4}\b(?! \w)/);

    const appointment = await t.app.db('appointments').first();
    expect(appointment).toMatchObject({ session_id: session.id, status: 'booked', dose: 1, failed_attempts: 0 });
    expect(end).toContain(`Ref ${appointment.reference}`);
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(1);

    const [sms] = await t.at.waitForSent(1);
    expect(sms!.to).toBe(phone);
    expect(sms!.message).toContain(centre.name);
    expect(sms!.message).toContain(appointment.reference);
    const code = /security code is (\d{4})\b/.exec(sms!.message)?.[1];
    expect(code).toBeDefined();
    const { CodeVault } = await import('../../src/domain/codes');
    const vault = new CodeVault(t.app.config.CODE_SECRET);
    expect(vault.matches(appointment.reference, code!, appointment.code_hmac)).toBe(true);
    expect(vault.matches(appointment.reference, code === '0000' ? '0001' : '0000', appointment.code_hmac)).toBe(false);

    const row = await eventually('the SMS row marked sent', async () => {
      const r = await t.app.db('outbound_messages').where('appointment_id', appointment.id).first();
      return r?.status === 'sent' ? r : undefined;
    });
    expect(row.provider_message_id).toBe(sms!.messageId);
    expect(JSON.stringify(row.params)).not.toContain(code);

    // The photo-ID number typed in the session is not kept in Redis either.
    for (const key of await t.app.redis.keys(`${t.app.config.REDIS_PREFIX}:*`)) {
      if ((await t.app.redis.type(key)) === 'string') expect(await t.app.redis.get(key)).not.toContain(pan(1));
    }
    // Nothing anywhere else holds the code in clear: not Redis, not the job, not the logs.
    const keys = await t.app.redis.keys('*');
    for (const key of keys) {
      const type = await t.app.redis.type(key);
      const dump = type === 'string' ? await t.app.redis.get(key) : type === 'hash' ? JSON.stringify(await t.app.redis.hgetall(key)) : '';
      expect(dump ?? '').not.toContain(`code is ${code}`);
      if (type === 'hash') expect(dump).not.toContain(`"code":"${code}"`);
    }
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^tika_sms_outcomes_total\{provider="africastalking",outcome="sent"\} [1-9]/m);
    expect(metrics).toMatch(/^tika_ussd_replies_total\{kind="END"\} [1-9]/m);
    expect(metrics).toMatch(/^tika_queue_jobs\{queue="sms-africastalking",state="waiting"\} \d+/m);
    expect(metrics).not.toContain('9876543210');

    const logs = t.logs.join('');
    expect(logs).not.toContain(`code is ${code}`);
    expect(logs).not.toContain(TEST_API_KEY);
    expect(logs).not.toContain('9876543210');
  });

  it('shows "My appointments" without the code, and sends a new code by SMS on request', async () => {
    await seedCentre(t.app, { capacity: 5, pincode: '110002' });
    const phone = '+919876543211';
    await t.converse('ATUid_mine1', phone, [...registration('Ravi Kumar', pan(2)), '110002', '1', '1', '1']);
    const [first] = await t.at.waitForSent(1);
    const firstCode = /security code is (\d{4})/.exec(first!.message)![1]!;

    const screens = await t.converse('ATUid_mine2', phone, ['2', '1']);
    expect(screens[1]).toMatch(/^CON Your appointments:\n1 Ravi Kumar /);
    const appointment = await t.app.db('appointments').orderBy('id', 'desc').first();
    expect(screens[2]).toContain(`Ref ${appointment.reference}`);
    expect(screens[2]).toContain('1 Options');
    expect(screens[2]).not.toContain(firstCode);

    expect((await t.ussd('ATUid_mine2', phone, '2*1*1')).body).toContain('1 New code by SMS');
    const resent = await t.ussd('ATUid_mine2', phone, '2*1*1*1');
    expect(resent.body).toBe('END A new security code has been sent by SMS. The old code no longer works. A locked booking is open again.');
    const sent = await t.at.waitForSent(2);
    const newCode = /security code is (\d{4})/.exec(sent[1]!.message)![1]!;
    const { CodeVault } = await import('../../src/domain/codes');
    const vault = new CodeVault(t.app.config.CODE_SECRET);
    const updated = await t.app.db('appointments').where('id', appointment.id).first();
    expect(vault.matches(updated.reference, newCode, updated.code_hmac)).toBe(true);
    if (newCode !== firstCode) expect(vault.matches(updated.reference, firstCode, updated.code_hmac)).toBe(false);
  });

  it('answers a repeated hop with the same screen and books once', async () => {
    const { session } = await seedCentre(t.app, { capacity: 5, pincode: '110003' });
    const phone = '+919876543212';
    const answers = [...registration('Meena Iyer', pan(3)), '110003', '1', '1', '1'];
    const screens = await t.converse('ATUid_repeat', phone, answers);
    const again = await t.ussd('ATUid_repeat', phone, answers.join('*'));
    expect(again.body).toBe(screens.at(-1));
    const middle = await t.ussd('ATUid_repeat', phone, answers.join('*'));
    expect(middle.body).toBe(screens.at(-1));

    await t.at.waitForSent(1);
    expect(await t.app.db('appointments').where('session_id', session.id).count({ n: '*' })).toEqual([{ n: 1 }]);
    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(1);
    expect(await t.app.db('outbound_messages').count({ n: '*' }).whereNotNull('appointment_id').whereIn('appointment_id', t.app.db('appointments').where('session_id', session.id).select('id'))).toEqual([{ n: 1 }]);
  });

  it('takes exactly the seats there are when 50 people confirm at once for 10 seats', async () => {
    const { session } = await seedCentre(t.app, { name: 'Safdarjung Hospital', pincode: '110029', capacity: 10 });
    const people = Array.from({ length: 50 }, (_, i) => ({ phone: `+91981100${String(i).padStart(4, '0')}`, sessionId: `ATUid_rush_${i}` }));
    const answers = (i: number) => [...registration(`Person ${'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[i % 26]}${'ABCDEFGHIJKLMNOPQRSTUVWXYZ'[Math.floor(i / 26)]}`, pan(100 + i)), '110029', '1', '1'];
    for (let start = 0; start < people.length; start += 10) {
      await Promise.all(
        people.slice(start, start + 10).map(async (p, k) => {
          const screens = await t.converse(p.sessionId, p.phone, answers(start + k));
          expect(screens.at(-1)).toMatch(/^CON Book /);
        }),
      );
    }

    const finals = await Promise.all(people.map((p, i) => t.ussd(p.sessionId, p.phone, [...answers(i), '1'].join('*'))));
    const booked = finals.filter((r) => r.body.startsWith('END Booked:'));
    const full = finals.filter((r) => r.body.startsWith('CON Sorry, that session is now full.'));
    expect(booked).toHaveLength(10);
    expect(full).toHaveLength(40);
    expect(full[0]!.body).toContain('1 Choose another date');

    expect((await t.app.db('vaccination_sessions').where('id', session.id).first()).booked).toBe(10);
    expect(await t.app.db('appointments').where('session_id', session.id).count({ n: '*' })).toEqual([{ n: 10 }]);
    const sent = await t.at.waitForSent(10, 15000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(t.at.sent).toHaveLength(10);
    expect(new Set(sent.map((s) => s.to)).size).toBe(10);
  });

  it('lists only centres with free seats in the booking window, and says so when there are none', async () => {
    await seedCentre(t.app, { name: 'Far Future Centre', pincode: '560001', capacity: 10, daysFromToday: 40 });
    // The admin API refuses a past day: the session is moved there as if it had been made yesterday.
    const { session: yesterday } = await seedCentre(t.app, { name: 'Yesterday Centre', pincode: '560001', capacity: 10, daysFromToday: 0 });
    await t.app.db('vaccination_sessions').where('id', yesterday.id).update({ date: addDays(yesterday.date, -1) });
    const screens = await t.converse('ATUid_none', '+919876543213', [...registration('Kiran Rao', pan(4)), '560001']);
    expect(screens.at(-1)).toBe('CON No vaccination sessions near 560001 in the coming days.\n1 Try another PIN code\n0 Back');
  });

  it('refuses sessions below their minimum age', async () => {
    const { centre } = await seedCentre(t.app, { name: 'Over 45 Centre', pincode: '400001', minAge: 45 });
    const now = t.app.clock.now().getUTCFullYear();
    const screens = await t.converse('ATUid_young', '+919876543214', ['1', '1', 'Young Person', String(now - 20), '2', '2', pan(5), '400001']);
    expect(screens.at(-1)).toBe('CON Young Person: sessions near 400001 are for ages 45+.\n1 Try another PIN code\n0 Back');
    expect(screens.at(-1)).not.toContain(centre.name);
  });

  it('books today\'s session at the centre\'s date, not UTC\'s', async () => {
    // 20:00 UTC is already tomorrow in India: a session "tomorrow" in UTC terms is today there.
    const clockNow = new Date('2026-12-01T20:00:00Z');
    t.clock.set(clockNow);
    try {
      const { session } = await seedCentre(t.app, { name: 'Night Centre', pincode: '700001', daysFromToday: 0 });
      expect(session.date).toBe(addDays(dayIn('UTC', clockNow), 1));
      const screens = await t.converse('ATUid_tz', '+919876543215', [...registration('Tara Sen', pan(6)), '700001']);
      expect(screens.at(-1)).toContain('Night Centre');
    } finally {
      t.clock.set(new Date());
    }
  });
});
