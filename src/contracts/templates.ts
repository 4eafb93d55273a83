/**
 * Registered SMS templates (India's DLT): each catalogue key and language maps to the template id
 * the operators know and the exact registered text, with {#var#} where a value goes.
 */
export interface RegisteredTemplate {
  templateId: string;
  text: string;
}

export interface TemplateBook {
  /** The template for a catalogue key in a language, if one is registered. */
  find(key: string, language: string): RegisteredTemplate | undefined;
}

/**
 * Every catalogue key the outbound pipeline sends as a whole SMS (outbound_messages.template).
 * test/channels/dlt.test.ts reads the code that sends and fails when a key sent is missing here.
 * Fragments (sms.status_item, sms.book.member_item, a conversation's screens) are not sent alone:
 * they are composed into sms.screen.
 */
export const SMS_KEYS_SENT = [
  'sms.booking_code',
  'sms.code_resent',
  'sms.cancelled',
  'sms.rescheduled',
  'sms.vaccinated',
  'sms.help',
  'sms.commands',
  'sms.use_ussd',
  'sms.no_appointments',
  'sms.cancel_usage',
  'sms.cancel_not_found',
  'sms.vax_usage',
  'sms.vax_accepted',
  'sms.vax_wrong_code',
  'sms.vax_locked',
  'sms.vax_already',
  'sms.vax_no_booking',
  'sms.vax_not_vaccinator',
  'sms.vax_too_many',
  'sms.vax_centre_limit',
  'sms.vax_mobile_limit',
  'sms.screen',
] as const;

/**
 * The conversation screen: its one {screen} is a whole composed reply of up to 306 characters, which
 * no DLT template can carry (a {#var#} holds 30). It is never sent on a route that needs templates:
 * there the SMS conversations are not offered (SmsDialogue's conversesBySms) and sms.use_ussd answers.
 */
export const CONVERSATION_SCREEN_KEY = 'sms.screen';

/** The keys a template book must register: every key sent as a whole SMS but the conversation screen. */
export const TEMPLATED_SMS_KEYS: readonly string[] = SMS_KEYS_SENT.filter((key) => key !== CONVERSATION_SCREEN_KEY);
