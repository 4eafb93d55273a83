import { encodedLength, encodingOf, screenLimitFor, smsParts, type Encoding, type ScreenLimits } from '../dialogue/encoding';

/**
 * What a phone simulator sends and reads, in Africa's Talking's wire format, exactly as the
 * operator would: the same webhook endpoints, form-encoded, `text` the whole input of the session so
 * far joined by '*'. Runs in the browser and in Node (fetch, URLSearchParams), no Node modules.
 */
export interface SimulatorTarget {
  /** Where Tika answers, e.g. http://localhost:3000 */
  baseUrl: string;
  /** The `?key=` every provider callback carries. */
  webhookKey: string;
  serviceCode: string;
  /** The short code or virtual number citizens text. */
  smsShortCode: string;
}

/**
 * The page's config.json (built by src/simulator/settings.ts; here, so the browser code reads the same
 * type): what the page needs to speak to this server as the operator would. Only for those allowed to see the simulator.
 */
export interface SimulatorSettings {
  serviceCode: string;
  /** The `?key=` of every provider callback: the page posts to the real webhook endpoints. */
  webhookKey: string;
  smsShortCode: string;
  limits: ScreenLimits;
  /** An idle USSD session ends after this long, as at an operator. */
  sessionTimeoutSeconds: number;
  /** Whether SMS stay on this machine (the sandbox provider), where the page's inboxes can show them. */
  sandbox: boolean;
  /** Active vaccinators at active centres, the seeded one (npm run seed:demo) first when present. */
  vaccinators: { phone: string; name: string; centre: string }[];
}

export const AT_PROVIDER_PATH = '/webhooks/africastalking';
/** Airtel India's MCC+MNC: any network code will do for Tika. */
const NETWORK_CODE = '40410';

export interface UssdScreen {
  /** END: the operator closes the session after showing it. */
  end: boolean;
  text: string;
}

/** One USSD hop: `inputs` are the answers typed in this session so far, oldest first (none on the dial). */
export function ussdForm(target: SimulatorTarget, sessionId: string, phone: string, inputs: readonly string[]): URLSearchParams {
  return new URLSearchParams({ sessionId, serviceCode: target.serviceCode, phoneNumber: phone, networkCode: NETWORK_CODE, text: inputs.join('*') });
}

/** An SMS a phone sends to the service, as Africa's Talking posts it to the incoming-SMS callback. */
export function incomingSmsForm(target: SimulatorTarget, from: string, text: string, id: string, sentAt: Date): URLSearchParams {
  return new URLSearchParams({ from, to: target.smsShortCode, text, id, date: sentAt.toISOString().replace(/\.\d{3}Z$/, 'Z'), networkCode: NETWORK_CODE });
}

/** A USSD session as the operator keeps it: what its end-of-session notification reports. */
export interface UssdSession {
  id: string;
  /** The answers typed so far, oldest first. */
  inputs: string[];
  startedAt: number;
  hops: number;
  /** Our last reply, with its CON/END prefix. */
  lastAppResponse: string;
}

export function newUssdSession(id: string, now = Date.now()): UssdSession {
  return { id, inputs: [], startedAt: now, hops: 0, lastAppResponse: '' };
}

/** How a session ended: answered with END, left (hung up or timed out) before one, or our answer failed. */
export type SessionEnd = { status: 'Success' } | { status: 'Incomplete' } | { status: 'Failed'; errorMessage: string };

/** Africa's Talking's end-of-session notification: all values strings, `date` as `yyyy-MM-dd HH:mm:ss` UTC. */
export function sessionEndedForm(target: SimulatorTarget, phone: string, session: UssdSession, end: SessionEnd, now = new Date()): URLSearchParams {
  return new URLSearchParams({
    date: now.toISOString().slice(0, 19).replace('T', ' '),
    sessionId: session.id,
    serviceCode: target.serviceCode,
    networkCode: NETWORK_CODE,
    phoneNumber: phone,
    status: end.status,
    durationInMillis: String(Math.max(0, now.getTime() - session.startedAt)),
    hopsCount: String(session.hops),
    input: session.inputs.join('*'),
    lastAppResponse: session.lastAppResponse,
    errorMessage: end.status === 'Failed' ? end.errorMessage : '',
  });
}

export function webhookUrl(target: SimulatorTarget, callback: 'ussd' | 'ussd/events' | 'sms'): string {
  return `${target.baseUrl.replace(/\/+$/, '')}${AT_PROVIDER_PATH}/${callback}?key=${encodeURIComponent(target.webhookKey)}`;
}

/** Africa's Talking's reply: "CON text" keeps the session open, "END text" closes it. */
export function parseUssdReply(body: string): UssdScreen {
  if (body.startsWith('CON ')) return { end: false, text: body.slice(4) };
  if (body.startsWith('END ')) return { end: true, text: body.slice(4) };
  throw new Error(`not a USSD reply: ${JSON.stringify(body.slice(0, 80))}`);
}

/** Sends the session's next hop and reads the screen; a refusal (4xx/5xx) is an error naming the status. */
export async function sendUssd(target: SimulatorTarget, session: UssdSession, phone: string): Promise<UssdScreen> {
  session.hops++;
  const response = await post(webhookUrl(target, 'ussd'), ussdForm(target, session.id, phone, session.inputs));
  const body = await response.text();
  if (!response.ok) throw new Error(`USSD hop answered ${response.status}: ${body}`);
  const screen = parseUssdReply(body);
  session.lastAppResponse = body;
  return screen;
}

/** Tells the service the session is over, as the operator does after it closes one. */
export async function sendSessionEnded(target: SimulatorTarget, phone: string, session: UssdSession, end: SessionEnd): Promise<void> {
  const response = await post(webhookUrl(target, 'ussd/events'), sessionEndedForm(target, phone, session, end));
  if (!response.ok) throw new Error(`end-of-session notification answered ${response.status}: ${await response.text()}`);
}

function post(url: string, form: URLSearchParams): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
}

export async function sendSms(target: SimulatorTarget, from: string, text: string, id: string, sentAt = new Date()): Promise<void> {
  const response = await post(webhookUrl(target, 'sms'), incomingSmsForm(target, from, text, id, sentAt));
  if (!response.ok) throw new Error(`incoming SMS answered ${response.status}: ${await response.text()}`);
}

/** What the operator sees of a screen: its encoding, length as the network counts it, and the limit for that encoding. */
export interface ScreenMeasure {
  encoding: Encoding;
  length: number;
  limit: number;
  over: boolean;
}

export function measureScreen(text: string, limits: ScreenLimits): ScreenMeasure {
  const length = encodedLength(text);
  const limit = screenLimitFor(text, limits);
  return { encoding: encodingOf(text), length, limit, over: length > limit };
}

/** An SMS's encoding and how many parts the network bills. */
export function measureSms(text: string): { encoding: Encoding; length: number; parts: number } {
  return { encoding: encodingOf(text), length: encodedLength(text), parts: smsParts(text) };
}
