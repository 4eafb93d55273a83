import { africasTalking, COUNT_LIMITS, DELIVERY_FAILURE_REASONS, DELIVERY_STATUSES, FIELD_LIMITS, isFinalDeliveryStatus, parseDeliveryReport } from '../../src/channels/africastalking';
import type { DeliveryState, Parsed } from '../../src/contracts/messages';
import { runCallbackTable, runReplyTable, runStatusTable, type CallbackCase, type CallbackName } from './harness';

type InboundCase = CallbackCase;

/**
 * Every delivery status Africa's Talking documents, as Tika must read it, written out here rather
 * than taken from the handler: a status moved to another state by mistake fails this table.
 */
const DOCUMENTED_STATUSES: Record<string, { state: DeliveryState; final: boolean }> = {
  Sent: { state: 'sent', final: false },
  Submitted: { state: 'sent', final: false },
  Buffered: { state: 'sent', final: false },
  Success: { state: 'delivered', final: true },
  Rejected: { state: 'failed-permanent', final: true },
  Failed: { state: 'failed-permanent', final: true },
  AbsentSubscriber: { state: 'failed-transient', final: false },
  Expired: { state: 'failed-permanent', final: true },
};

const SESSION = 'ATUid_5d3b4c2bc589f4811820a7184eed4df5';
const HOP = `sessionId=${SESSION}&serviceCode=*384*1234%23&phoneNumber=%2B254711000111&networkCode=63902`;
const SMS = 'linkId=03090445075804249226&text=Msg&to=21512&id=ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3';
const REPORT_ID = 'ATXid_dda018a640edfcc5d2ce455de3e4a6e7';

const ussd = (raw: string, expected: Parsed<unknown>, label: string): InboundCase => ({ label: `USSD hop: ${label}`, callback: 'ussd', raw, expected });
const sms = (raw: string, expected: Parsed<unknown>, label: string): InboundCase => ({ label: `incoming SMS: ${label}`, callback: 'sms', raw, expected });
/** Every parsed report carries Tika's reading of its status (state, final), from the documented table above. */
const report = (raw: string, expected: Parsed<unknown>, label: string): InboundCase => ({
  label: `delivery report: ${label}`,
  callback: 'status',
  raw,
  expected: expected.ok ? { ok: true, value: withState(expected.value as { status: string }) } : expected,
});
const withState = (value: { status: string }) => {
  const { state, final } = DOCUMENTED_STATUSES[value.status] ?? { state: 'unknown', final: false };
  return { ...value, state, final };
};
const ended = (raw: string, expected: Parsed<unknown>, label: string): InboundCase => ({
  label: `USSD session ended: ${label}`,
  callback: 'ussdEnded',
  raw,
  expected,
});
const error = (message: string): Parsed<unknown> => ({ ok: false, error: message });

const hopValue = (text: string) => ({ ok: true, value: { sessionId: SESSION, serviceCode: '*384*1234#', phone: '+254711000111', networkCode: '63902', text } }) as const;
const smsValue = (date: Date) =>
  ({
    ok: true,
    value: {
      providerMessageId: 'ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3',
      phone: '+254791541111',
      to: '21512',
      text: 'Msg',
      linkId: '03090445075804249226',
      date,
    },
  }) as const;

const cases: InboundCase[] = [
  ussd(`${HOP}&text=`, hopValue(''), 'first hop, empty text'),
  ussd(HOP, hopValue(''), 'first hop, text absent'),
  ussd(`${HOP}&text=1*1`, hopValue('1*1'), 'later hop'),
  ussd(
    `sessionId=${SESSION}&serviceCode=*384*1234%23&phoneNumber=254711000111&text=1`,
    { ok: true, value: { sessionId: SESSION, serviceCode: '*384*1234#', phone: '+254711000111', text: '1' } },
    "phone without '+', no networkCode",
  ),
  ussd(
    `sessionId=${SESSION}&serviceCode=*384*1234%23&phoneNumber=+254711000111&text=1`,
    { ok: true, value: { sessionId: SESSION, serviceCode: '*384*1234#', phone: '+254711000111', text: '1' } },
    "unencoded '+' (decoded as a space)",
  ),
  ussd(`serviceCode=*384*1234%23&phoneNumber=%2B254711000111&networkCode=63902&text=`, error('sessionId is missing'), 'missing sessionId'),
  ussd(`sessionId=&serviceCode=*384*1234%23&phoneNumber=%2B254711000111&text=`, error('sessionId is empty'), 'empty sessionId'),
  ussd(
    `sessionId=${SESSION}&serviceCode=*384*1234%23&phoneNumber=%2B2547-CALL-ME&text=`,
    error("phoneNumber is not a valid mobile number: '+2547-CALL-ME'"),
    'bad phone',
  ),
  ussd(`sessionId=${SESSION}&serviceCode=*384*1234%23&text=`, error('phoneNumber is missing'), 'missing phone'),
  ussd('text=', error('sessionId is missing; serviceCode is missing; phoneNumber is missing'), 'every error named'),

  ended(
    `date=2025-09-29 12:00:00&sessionId=${SESSION}&serviceCode=*123%23&networkCode=63902&phoneNumber=%2B254711000111&status=Success&cost=KES 0.10&durationInMillis=12345&hopsCount=3&input=1*1&lastAppResponse=END Your account number is ACC1001&errorMessage=`,
    {
      ok: true,
      value: {
        sessionId: SESSION,
        serviceCode: '*123#',
        phone: '+254711000111',
        networkCode: '63902',
        status: 'Success',
        cost: 'KES 0.10',
        durationMs: 12345,
        hopsCount: 3,
        lastAppResponse: 'END Your account number is ACC1001',
        date: new Date('2025-09-29T12:00:00Z'),
      },
    },
    'documented example',
  ),
  ended(
    `date=2025-09-29 12:00:00&sessionId=${SESSION}&phoneNumber=%2B254711000111&status=Failed&durationInMillis=&hopsCount=1&errorMessage=Session timed out`,
    {
      ok: true,
      value: {
        sessionId: SESSION,
        phone: '+254711000111',
        status: 'Failed',
        hopsCount: 1,
        errorMessage: 'Session timed out',
        date: new Date('2025-09-29T12:00:00Z'),
      },
    },
    'Failed with errorMessage, empty duration',
  ),
  ended(
    `date=2025-09-29 12:00:00&sessionId=${SESSION}&phoneNumber=%2B254711000111&status=Success&hopsCount=three`,
    error("hopsCount is not a whole number: 'three'"),
    'hopsCount not a number',
  ),
  ended(`sessionId=${SESSION}&phoneNumber=%2B254711000111&status=`, error('status is empty'), 'empty status'),
  ended(`date=29/09/2025&sessionId=${SESSION}&phoneNumber=%2B254711000111&status=Success`, error("date is not a date: '29/09/2025'"), 'bad date'),

  sms(`${SMS}&date=2017-05-03T06%3A04%3A45Z&from=%2B254791541111`, smsValue(new Date('2017-05-03T06:04:45Z')), 'ISO date'),
  sms(`${SMS}&date=2017-05-03 06%3A04%3A45&from=%2B254791541111`, smsValue(new Date('2017-05-03T06:04:45Z')), 'date with a space'),
  sms(`${SMS.replace('text=Msg', 'text=Ms%00g')}&date=2017-05-03T06%3A04%3A45Z&from=%2B254791541111`, smsValue(new Date('2017-05-03T06:04:45Z')), 'a NUL character, which PostgreSQL cannot store, dropped'),
  sms(`${SMS}&date=yesterday&from=%2B254791541111`, error("date is not a date: 'yesterday'"), 'bad date'),
  sms(`${SMS}&date=2017-02-30 06%3A04%3A45&from=%2B254791541111`, error("date is not a date: '2017-02-30 06:04:45'"), 'impossible date'),
  sms(`${SMS}&date=2017-05-03T06%3A04%3A45Z&from=hello`, error("from is not a valid mobile number: 'hello'"), 'bad sender'),
  sms(
    'linkId=03090445075804249226&text=Msg&to=21512&date=2017-05-03T06%3A04%3A45Z&from=%2B254791541111',
    error('id is missing'),
    'missing id',
  ),

  ...Object.keys(DELIVERY_STATUSES).map((status) =>
    report(
      `id=${REPORT_ID}&status=${status}&phoneNumber=%2B254711000111&networkCode=63902&retryCount=0`,
      { ok: true, value: { providerMessageId: REPORT_ID, status, phone: '+254711000111', networkCode: '63902', retryCount: 0 } },
      status,
    ),
  ),
  report(
    `id=${REPORT_ID}&status=Failed&phoneNumber=%2B254711000111&networkCode=63902&failureReason=UserInBlackList&retryCount=2`,
    {
      ok: true,
      value: { providerMessageId: REPORT_ID, status: 'Failed', phone: '+254711000111', networkCode: '63902', failureReason: 'UserInBlackList', retryCount: 2 },
    },
    'Failed with a failureReason',
  ),
  report(
    `id=${REPORT_ID}&status=SomethingNew&phoneNumber=%2B254711000111&networkCode=63902&retryCount=0`,
    { ok: true, value: { providerMessageId: REPORT_ID, status: 'SomethingNew', phone: '+254711000111', networkCode: '63902', retryCount: 0 } },
    'unknown status accepted',
  ),
  report(`id=${REPORT_ID}&status=Success`, { ok: true, value: { providerMessageId: REPORT_ID, status: 'Success' } }, 'only id and status'),
  report(`status=Success&phoneNumber=%2B254711000111&networkCode=63902&retryCount=0`, error('id is missing'), 'missing id'),
  report(`id=${REPORT_ID}&status=Success&retryCount=-1`, error("retryCount is not a whole number: '-1'"), 'bad retryCount'),
  ...capRows(),
  ...countRows(),
  ...phoneRows(),
  report(
    `id=${REPORT_ID}&status=Failed&failureReason=SomethingNew`,
    { ok: true, value: { providerMessageId: REPORT_ID, status: 'Failed', failureReason: 'Other' } },
    'unknown failureReason kept as Other',
  ),
  report(
    `id=${REPORT_ID}&status=Failed&failureReason=${'x'.repeat(15_000)}`,
    { ok: true, value: { providerMessageId: REPORT_ID, status: 'Failed', failureReason: 'Other' } },
    'a 15 KB failureReason kept as Other, never verbatim',
  ),
  report(`id=${REPORT_ID}&id=${REPORT_ID}&status=Success`, error('id is not a single text value'), 'a field sent twice, which express reads as a list'),
  report(
    `id=${REPORT_ID}&status=Rejected&failureReason=NotNetworkSubcriber`,
    { ok: true, value: { providerMessageId: REPORT_ID, status: 'Rejected', failureReason: 'NotNetworkSubcriber' } },
    "documented failureReason kept (AT's spelling)",
  ),
];

/** Every capped field: at its limit it parses, one character over it is refused with a message naming it. */
function capRows(): InboundCase[] {
  const ENDED = `sessionId=${SESSION}&phoneNumber=%2B254711000111&status=Success`;
  const SMS_BASE = `id=abc&from=%2B254791541111&text=Hi`;
  const REPORT = `id=${REPORT_ID}&status=Success`;
  const fields: [string, keyof typeof FIELD_LIMITS, (raw: string) => string, CallbackName][] = [
    ['USSD hop', 'sessionId', (v) => `sessionId=${v}&serviceCode=*384%23&phoneNumber=%2B254711000111`, 'ussd'],
    ['USSD hop', 'serviceCode', (v) => `sessionId=s&serviceCode=${v}&phoneNumber=%2B254711000111`, 'ussd'],
    ['USSD hop', 'networkCode', (v) => `${HOP.replace('networkCode=63902', `networkCode=${v}`)}`, 'ussd'],
    ['USSD hop', 'text', (v) => `${HOP}&text=${v}`, 'ussd'],
    ['USSD session ended', 'sessionId', (v) => ENDED.replace(`sessionId=${SESSION}`, `sessionId=${v}`), 'ussdEnded'],
    ['USSD session ended', 'serviceCode', (v) => `${ENDED}&serviceCode=${v}`, 'ussdEnded'],
    ['USSD session ended', 'networkCode', (v) => `${ENDED}&networkCode=${v}`, 'ussdEnded'],
    ['USSD session ended', 'status', (v) => ENDED.replace('status=Success', `status=${v}`), 'ussdEnded'],
    ['USSD session ended', 'cost', (v) => `${ENDED}&cost=${v}`, 'ussdEnded'],
    ['USSD session ended', 'lastAppResponse', (v) => `${ENDED}&lastAppResponse=${v}`, 'ussdEnded'],
    ['USSD session ended', 'errorMessage', (v) => `${ENDED}&errorMessage=${v}`, 'ussdEnded'],
    ['incoming SMS', 'id', (v) => SMS_BASE.replace('id=abc', `id=${v}`), 'sms'],
    ['incoming SMS', 'to', (v) => `${SMS_BASE}&to=${v}`, 'sms'],
    ['incoming SMS', 'text', (v) => SMS_BASE.replace('text=Hi', `text=${v}`), 'sms'],
    ['incoming SMS', 'linkId', (v) => `${SMS_BASE}&linkId=${v}`, 'sms'],
    ['incoming SMS', 'networkCode', (v) => `${SMS_BASE}&networkCode=${v}`, 'sms'],
    ['incoming SMS', 'date', (v) => `${SMS_BASE}&date=${v}`, 'sms'],
    ['delivery report', 'id', (v) => REPORT.replace(`id=${REPORT_ID}`, `id=${v}`), 'status'],
    ['delivery report', 'status', (v) => REPORT.replace('status=Success', `status=${v}`), 'status'],
    ['delivery report', 'networkCode', (v) => `${REPORT}&networkCode=${v}`, 'status'],
  ];
  return fields.flatMap(([name, field, body, callback]) => {
    const limit = FIELD_LIMITS[field];
    const over: InboundCase = { label: `${name}: ${field} of ${limit + 1} characters`, callback, raw: body('9'.repeat(limit + 1)), expected: error(`${field} is longer than ${limit} characters`) };
    // A date of the maximum length is no date; its cap is checked only by refusal.
    if (field === 'date') return [over];
    const atLimit: InboundCase = { label: `${name}: ${field} of exactly ${limit} characters`, callback, raw: body('9'.repeat(limit)), expected: expect.objectContaining({ ok: true }) };
    return [atLimit, over];
  }).concat([
    ussd(`sessionId=${'A'.repeat(3000)}&serviceCode=*384%23&phoneNumber=%2B254711000111`, error('sessionId is longer than 100 characters'), 'a 3 KB sessionId'),
    sms(`id=${'A'.repeat(3000)}&from=%2B254791541111&text=Hi`, error('id is longer than 100 characters'), 'a 3 KB id'),
  ]);
}

/** Counts: whole, non-negative, at most their cap (which fits PostgreSQL's integer column). */
function countRows(): InboundCase[] {
  const ENDED = `sessionId=${SESSION}&phoneNumber=%2B254711000111&status=Success`;
  const endedCount = (field: 'durationInMillis' | 'hopsCount', value: string) => `${ENDED}&${field}=${value}`;
  const rows: InboundCase[] = [];
  for (const field of ['durationInMillis', 'hopsCount'] as const) {
    const max = COUNT_LIMITS[field];
    const key = field === 'durationInMillis' ? 'durationMs' : 'hopsCount';
    rows.push(
      ended(endedCount(field, String(max)), { ok: true, value: { sessionId: SESSION, phone: '+254711000111', status: 'Success', [key]: max } }, `${field} at its cap`),
      ended(endedCount(field, String(max + 1)), error(`${field} is more than ${max}: '${max + 1}'`), `${field} over its cap`),
      ended(endedCount(field, '2147483648'), error(`${field} is more than ${max}: '2147483648'`), `${field} of 2^31`),
      ended(endedCount(field, '9'.repeat(400)), error(`${field} is more than ${max}: '${'9'.repeat(40)}…'`), `${field} of 400 digits`),
      ended(endedCount(field, '-5'), error(`${field} is not a whole number: '-5'`), `${field} negative`),
      ended(endedCount(field, '1.5'), error(`${field} is not a whole number: '1.5'`), `${field} not whole`),
    );
  }
  rows.push(
    report(`id=${REPORT_ID}&status=Success&retryCount=${COUNT_LIMITS.retryCount + 1}`, error(`retryCount is more than ${COUNT_LIMITS.retryCount}: '${COUNT_LIMITS.retryCount + 1}'`), 'retryCount over its cap'),
    report(`id=${REPORT_ID}&status=Success&retryCount=2147483648`, error(`retryCount is more than ${COUNT_LIMITS.retryCount}: '2147483648'`), 'retryCount of 2^31'),
  );
  return rows;
}

/** Only numbers libphonenumber knows as mobiles; a national number is read in the default country (IN here). */
function phoneRows(): InboundCase[] {
  const hopFrom = (phone: string) => `sessionId=${SESSION}&serviceCode=*384%23&phoneNumber=${phone}&text=`;
  const smsFrom = (phone: string) => `id=abc&from=${phone}&text=Hi`;
  const hopOk = (phone: string) => ({ ok: true, value: { sessionId: SESSION, serviceCode: '*384#', phone, text: '' } }) as const;
  const smsOk = (phone: string) => ({ ok: true, value: { providerMessageId: 'abc', phone, text: 'Hi' } }) as const;
  return [
    ussd(hopFrom('09876543210'), hopOk('+919876543210'), 'a national number with its trunk 0, read in the default country'),
    ussd(hopFrom('9876543210'), hopOk('+919876543210'), 'a national number without the trunk 0'),
    ussd(hopFrom('%2B0000000'), error("phoneNumber is not a valid mobile number: '+0000000'"), 'the number +0000000'),
    ussd(hopFrom('%2B910000000000'), error("phoneNumber is not a valid mobile number: '+910000000000'"), 'an Indian number no operator has'),
    ussd(hopFrom('%2B911123456789'), error("phoneNumber is not a valid mobile number: '+911123456789'"), 'a Delhi landline'),
    ussd(hopFrom('%2B18005551234'), error("phoneNumber is not a valid mobile number: '+18005551234'"), 'a toll-free number'),
    ussd(hopFrom('9'.repeat(500)), error(`phoneNumber is not a valid mobile number: '${'9'.repeat(40)}…'`), 'a 500-digit number'),
    sms(smsFrom('09876543210'), smsOk('+919876543210'), 'a national sender number'),
    sms(smsFrom('%2B0000000'), error("from is not a valid mobile number: '+0000000'"), 'the sender +0000000'),
    report(`id=${REPORT_ID}&status=Success&phoneNumber=%2B0000000`, error("phoneNumber is not a valid mobile number: '+0000000'"), 'a report for +0000000'),
    ended(`sessionId=${SESSION}&phoneNumber=12345&status=Success`, error("phoneNumber is not a valid mobile number: '12345'"), 'a session end for 12345'),
  ];
}

runCallbackTable(africasTalking, cases);

runReplyTable(africasTalking, [
  { label: 'prefixes USSD replies with CON or END: CON while the session waits for an answer', reply: { end: false, text: '1. Book\n2. Cancel' }, expected: { contentType: 'text/plain', body: 'CON 1. Book\n2. Cancel' } },
  { label: 'prefixes USSD replies with CON or END: END on the last screen', reply: { end: true, text: 'Thank you' }, expected: { contentType: 'text/plain', body: 'END Thank you' } },
]);

runStatusTable(africasTalking, DOCUMENTED_STATUSES);

describe("Africa's Talking: replies and statuses", () => {
  it('knows which delivery statuses are final', () => {
    const final = Object.keys(DELIVERY_STATUSES).filter(isFinalDeliveryStatus);
    expect(final).toEqual(['Success', 'Rejected', 'Failed', 'Expired']);
    expect(isFinalDeliveryStatus('SomethingNew')).toBe(false);
    expect(isFinalDeliveryStatus('toString')).toBe(false);
  });

  it('lists both spellings of NotNetworkSubscriber', () => {
    expect(DELIVERY_FAILURE_REASONS).toEqual(expect.arrayContaining(['NotNetworkSubcriber', 'NotNetworkSubscriber']));
  });

  it('refuses a field sent twice (express extended parsing gives an array)', () => {
    expect(parseDeliveryReport({ id: [REPORT_ID, REPORT_ID], status: 'Success' }, { defaultCountry: 'IN' })).toEqual(error('id is not a single text value'));
  });
});
