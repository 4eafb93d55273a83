import {
  DELIVERY_FAILURE_REASONS,
  DELIVERY_STATUSES,
  formatUssdReply,
  isFinalDeliveryStatus,
  parseDeliveryReport,
  parseIncomingSms,
  parseUssdHop,
  parseUssdSessionEnded,
  type FormBody,
} from '../../src/channels/africastalking';
import type { Parsed } from '../../src/channels/types';
import { decodeForm, runTable } from './table';

interface InboundCase {
  label: string;
  parse: (body: FormBody) => Parsed<unknown>;
  /** The body exactly as Africa's Talking posts it. */
  raw: string;
  expected: Parsed<unknown>;
}

const SESSION = 'ATUid_5d3b4c2bc589f4811820a7184eed4df5';
const HOP = `sessionId=${SESSION}&serviceCode=*384*1234%23&phoneNumber=%2B254711000111&networkCode=63902`;
const SMS = 'linkId=03090445075804249226&text=Msg&to=21512&id=ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3';
const REPORT_ID = 'ATXid_dda018a640edfcc5d2ce455de3e4a6e7';

const ussd = (raw: string, expected: Parsed<unknown>, label: string): InboundCase => ({ label: `USSD hop: ${label}`, parse: parseUssdHop, raw, expected });
const sms = (raw: string, expected: Parsed<unknown>, label: string): InboundCase => ({ label: `incoming SMS: ${label}`, parse: parseIncomingSms, raw, expected });
const report = (raw: string, expected: Parsed<unknown>, label: string): InboundCase => ({
  label: `delivery report: ${label}`,
  parse: parseDeliveryReport,
  raw,
  expected,
});
const ended = (raw: string, expected: Parsed<unknown>, label: string): InboundCase => ({
  label: `USSD session ended: ${label}`,
  parse: parseUssdSessionEnded,
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
    error("phoneNumber is not a phone number: '+2547-CALL-ME'"),
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
  sms(`${SMS}&date=2017-05-03T06%3A04%3A45Z&from=hello`, error("from is not a phone number: 'hello'"), 'bad sender'),
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
];

runTable("Africa's Talking: parsing callbacks", cases, (row) => {
  expect(row.parse(decodeForm(row.raw))).toEqual(row.expected);
});

describe("Africa's Talking: replies and statuses", () => {
  it('prefixes USSD replies with CON or END', () => {
    expect(formatUssdReply({ end: false, text: '1. Book\n2. Cancel' })).toBe('CON 1. Book\n2. Cancel');
    expect(formatUssdReply({ end: true, text: 'Thank you' })).toBe('END Thank you');
  });

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
    expect(parseDeliveryReport({ id: [REPORT_ID, REPORT_ID], status: 'Success' })).toEqual(error('id is not a single text value'));
  });
});
