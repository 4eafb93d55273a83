import { seatCount } from './format';
import type { BookingRules, BookingService } from '../../domain/booking';
import { appointmentVars, availabilityOutcome } from './citizen';
import { shortDay } from '../../domain/dates';
import type { Action, Bindings, ListItem, Source, Validator, Vars } from '../engine';
import { validators as citizenValidators } from './validators';

/**
 * The named actions, sources and validators of the SMS flows (flows/sms_*.flow.json). Prefixed
 * "sms" so they never clash with the USSD flows' names when merged.
 */
export function smsBindings(booking: BookingService, rules: Pick<BookingRules, 'maxResendsPerDay' | 'maxMembersPerMobile'>): Bindings {
  const id = (vars: Vars, name: string) => Number(vars[name]);

  const actions: Record<string, Action> = {
    smsCountMembers: async (vars, ctx) => {
      // A conversation that has just registered a member (flows/sms_register) books for that member.
      if (vars.memberId) return { outcome: 'one' };
      const members = await booking.members(ctx.phone);
      if (members.length === 0) return { outcome: 'none' };
      return members.length === 1 ? { outcome: 'one', vars: { memberId: String(members[0]!.id) } } : { outcome: 'several' };
    },

    // The limit is checked again when the member is written (registerMember); asking first spares five answers.
    smsRoomForMember: async (_vars, ctx) => {
      const count = (await booking.members(ctx.phone)).length;
      return { outcome: count < rules.maxMembersPerMobile ? 'room' : 'member_limit', vars: { max: String(rules.maxMembersPerMobile) } };
    },

    smsCheckMember: async (vars, ctx) => {
      const status = await booking.memberStatus(ctx.phone, id(vars, 'memberId'));
      if (status.kind === 'already_booked') return { outcome: 'already_booked', vars: appointmentVars(status.appointment, ctx.language) };
      if (status.kind === 'not_found') return { outcome: 'not_found' };
      return { outcome: status.kind, vars: { memberName: status.member.name } };
    },

    smsCheckPincode: async (vars, ctx) => ({ outcome: citizenValidators.pincode!(vars.pincode ?? '', vars, ctx).ok ? 'given' : 'missing' }),

    smsFindSessions: async (vars, ctx) => availabilityOutcome(await booking.availability(ctx.phone, vars.pincode ?? '', id(vars, 'memberId')), ctx.language),

    smsBook: async (vars, ctx) => {
      // NO goes back to the dates; "0 Back" from there would only lead to this question again.
      if (vars.confirmed !== 'yes') return { outcome: 'declined', clearHistory: true };
      const result = await booking.book(ctx.phone, id(vars, 'memberId'), id(vars, 'sessionId'));
      switch (result.kind) {
        case 'booked':
        case 'already_booked':
          return { outcome: result.kind, vars: appointmentVars(result.appointment, ctx.language), clearHistory: true };
        case 'full':
        case 'closed':
          return { outcome: result.kind };
        case 'not_eligible':
        case 'not_found':
          return { outcome: 'not_eligible' };
      }
    },

    smsCountAppointments: async (_vars, ctx) => {
      const live = await booking.liveAppointments(ctx.phone);
      if (live.length === 0) return { outcome: 'none' };
      return live.length === 1 ? { outcome: 'one', vars: { appointmentId: String(live[0]!.id) } } : { outcome: 'several' };
    },

    smsResendCode: async (vars, ctx) => {
      const appointment = await booking.appointmentFor(ctx.phone, id(vars, 'appointmentId'));
      if (!appointment) return { outcome: 'gone' };
      const result = await booking.resendCode(ctx.phone, appointment.id, ctx.requestId);
      if (result.kind === 'not_found') return { outcome: 'gone' };
      return { outcome: result.kind, vars: { memberName: appointment.memberName, perDay: String(rules.maxResendsPerDay) } };
    },
  };

  const sources: Record<string, Source> = {
    smsMembers: async (_vars, ctx) =>
      (await booking.members(ctx.phone)).map((m) => ({ id: String(m.id), label: { key: 'sms.book.member_item', params: { memberName: m.name } } })),

    smsOpenSessions: async (vars, ctx) => openSessionItems(booking, vars.pincode ?? '', id(vars, 'memberId'), ctx.language),

    smsAppointments: async (_vars, ctx) =>
      (await booking.liveAppointments(ctx.phone)).map((a) => ({
        id: String(a.id),
        label: { key: 'sms.code.item', params: { memberName: a.memberName, day: shortDay(a.date, ctx.language) } },
      })),
  };

  return { actions, sources, validators: { smsYesNo } };
}

/**
 * The next sessions with free seats at every centre in the PIN code, soonest first. Built from
 * centresWithSeats and sessionsWithSeats: a PIN code holds a handful of centres, so a query per
 * centre costs little and the booking rules stay in one place.
 */
async function openSessionItems(booking: BookingService, pincode: string, memberId: number, language: string): Promise<ListItem[]> {
  const centres = await booking.centresWithSeats(pincode, memberId);
  const perCentre = await Promise.all(
    centres.map(async (centre) => (await booking.sessionsWithSeats(centre.id, memberId)).map((session) => ({ ...session, centre: centre.name }))),
  );
  return perCentre
    .flat()
    .sort((a, b) => a.date.localeCompare(b.date) || a.centre.localeCompare(b.centre) || a.id - b.id)
    .map((s) => {
      const params = { centre: s.centre, day: shortDay(s.date, language), vaccine: s.vaccine, minAge: String(s.minAge), free: seatCount(s.freeSeats) };
      return { id: String(s.id), label: { key: 'sms.book.session_item', params } };
    });
}

const YES = new Set(['yes', 'y', 'haan', 'han', 'haa', 'ha', 'हाँ', 'हां', 'हा']);
const NO = new Set(['no', 'n', 'nahin', 'nahi', 'na', 'नहीं', 'नही', 'ना']);

/** YES or NO in English, Hindi transliteration or Devanagari, in any case, a full stop or ! allowed. */
export const smsYesNo: Validator = (input) => {
  const word = input.normalize('NFC').trim().toLowerCase().replace(/[.!।]+$/u, '');
  if (YES.has(word)) return { ok: true, value: 'yes' };
  if (NO.has(word)) return { ok: true, value: 'no' };
  return { ok: false, reason: 'sms.book.yes_or_no' };
};
