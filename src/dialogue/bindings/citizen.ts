import { seatCount } from './format';
import { sessionHours, type AppointmentView, type Availability, type BookingService, type CentreOption, type SessionOption } from '../../domain/booking';
import { shortDay } from '../../domain/dates';
import { isIdType } from '../../domain/identity';
import type { Action, ActionResult, Bindings, ListItem, Source, Vars } from '../engine';
import { validators } from './validators';

/** What the citizen flow needs to know of a mobile beyond its bookings. */
export interface MobileAccounts {
  isKnownMobile(phone: string): Promise<boolean>;
  setLanguage(phone: string, language: string): Promise<void>;
}

/** The named actions and list sources that flows/citizen.flow.json uses, bound to the domain. */
export function citizenBindings(booking: BookingService, accounts: MobileAccounts, maxMembers: number): Bindings {
  const id = (vars: Vars, name: string) => Number(vars[name]);

  const actions: Record<string, Action> = {
    // A USSD dial has read this with the caller's other facts (knownMobile); an SMS conversation asks.
    welcome: async (vars, ctx) => ({ outcome: (vars.knownMobile ? vars.knownMobile === 'yes' : await accounts.isKnownMobile(ctx.phone)) ? 'known' : 'first_contact' }),

    setLanguage: async (vars, ctx) => {
      const language = vars.language ?? 'en';
      await accounts.setLanguage(ctx.phone, language);
      // The account exists now: going home (00) must not ask for a language again.
      return { outcome: 'set', language, clearHistory: true, vars: { knownMobile: 'yes' } };
    },

    checkMember: async (vars, ctx) => {
      if (vars.memberId === 'new') {
        const count = (await booking.members(ctx.phone)).length;
        return { outcome: count < maxMembers ? 'new' : 'member_limit', vars: { max: String(maxMembers) } };
      }
      const status = await booking.memberStatus(ctx.phone, id(vars, 'memberId'));
      switch (status.kind) {
        case 'can_book': {
          const name = { memberName: status.member.name };
          if (status.dose > 1 && status.vaccine && status.earliest) {
            return { outcome: 'second_dose', vars: { ...name, vaccine: status.vaccine, day: shortDay(status.earliest, ctx.language) } };
          }
          return { outcome: 'can_book', vars: name };
        }
        case 'already_booked':
          return { outcome: 'already_booked', vars: appointmentVars(status.appointment, ctx.language) };
        case 'fully_vaccinated':
          return { outcome: 'fully_vaccinated', vars: { memberName: status.member.name } };
        case 'not_found':
          return { outcome: 'new' };
      }
    },

    checkAge: async (vars) => {
      const age = await booking.checkAge(Number(vars.birthYear));
      return age.kind === 'too_young' ? { outcome: 'too_young', vars: { minAge: String(age.minAge) } } : { outcome: 'old_enough' };
    },

    findCentres: async (vars, ctx) => {
      const availability = await booking.availability(ctx.phone, vars.pincode ?? '', id(vars, 'memberId'));
      // The centres were read to decide: the list shows them without reading them again.
      return { ...availabilityOutcome(availability, ctx.language), ...(availability.kind === 'open' ? { items: availability.centres.map(centreItem) } : {}) };
    },

    registerMember: async (vars, ctx) => {
      const gender = vars.gender;
      const idType = vars.idType ?? '';
      if ((gender !== 'F' && gender !== 'M' && gender !== 'O') || !isIdType(idType)) {
        throw new Error('registration reached without gender or ID type');
      }
      const result = await booking.register(ctx.phone, {
        name: vars.name ?? '',
        birthYear: Number(vars.birthYear),
        gender,
        idType,
        idNumber: vars.idNumber ?? '',
      });
      // The ID number has done its work: keep it out of the session store from here on.
      const forget = { idNumber: '' };
      if (result.kind === 'too_young') return { outcome: result.kind, vars: { ...forget, minAge: String(result.minAge) } };
      if (result.kind !== 'registered') return { outcome: result.kind, vars: { ...forget, max: String(maxMembers) } };
      return {
        outcome: 'registered',
        vars: { ...forget, memberId: String(result.member.id), memberName: result.member.name },
        clearHistory: true,
      };
    },

    describeSession: async (vars, ctx) => {
      const session = await booking.sessionSummary(id(vars, 'sessionId'));
      if (!session || session.freeSeats <= 0) return { outcome: 'full' };
      return {
        outcome: 'open',
        vars: { centre: session.centreName, day: shortDay(session.date, ctx.language), vaccine: session.vaccine, dose: String(session.dose) },
      };
    },

    bookAppointment: async (vars, ctx) => {
      const result = await booking.book(ctx.phone, id(vars, 'memberId'), id(vars, 'sessionId'));
      switch (result.kind) {
        case 'booked':
          return { outcome: 'booked', vars: appointmentVars(result.appointment, ctx.language), clearHistory: true };
        case 'already_booked':
          return { outcome: 'already_booked', vars: appointmentVars(result.appointment, ctx.language) };
        case 'full':
        case 'closed':
          return { outcome: result.kind };
        case 'not_eligible':
        case 'not_found':
          return { outcome: 'not_eligible' };
      }
    },

    describeNewSession: async (vars, ctx) => {
      const session = await booking.sessionSummary(id(vars, 'newSessionId'));
      if (!session || session.freeSeats <= 0) return { outcome: 'full' };
      return { outcome: 'open', vars: { newDay: shortDay(session.date, ctx.language) } };
    },

    rescheduleAppointment: async (vars, ctx) => {
      const result = await booking.reschedule(ctx.phone, id(vars, 'appointmentId'), id(vars, 'newSessionId'));
      if (result.kind === 'rescheduled') return { outcome: 'rescheduled', vars: appointmentVars(result.appointment, ctx.language), clearHistory: true };
      return { outcome: result.kind === 'not_found' ? 'gone' : result.kind };
    },

    cancelAppointment: async (vars, ctx) => {
      const result = await booking.cancel(ctx.phone, id(vars, 'appointmentId'));
      return { outcome: result.kind === 'cancelled' ? 'cancelled' : 'gone', clearHistory: true };
    },

    countAppointments: async (_vars, ctx) => ({ outcome: (await booking.liveAppointments(ctx.phone)).length ? 'some' : 'none' }),

    describeAppointment: async (vars, ctx) => {
      const appointment = await booking.appointmentFor(ctx.phone, id(vars, 'appointmentId'));
      return appointment ? { outcome: 'found', vars: appointmentVars(appointment, ctx.language) } : { outcome: 'gone' };
    },

    resendCode: async (vars, ctx) => {
      const result = await booking.resendCode(ctx.phone, id(vars, 'appointmentId'));
      return { outcome: result.kind === 'not_found' ? 'gone' : result.kind, clearHistory: true };
    },
  };

  const sources: Record<string, Source> = {
    members: async (_vars, ctx) => {
      const members = await booking.members(ctx.phone);
      // None yet: the list is empty and the flow goes straight to registering the first (its "empty" state).
      if (members.length === 0) return [];
      const items: ListItem[] = members.map((m) => ({ id: String(m.id), label: { key: 'member.item', params: { memberName: m.name } } }));
      // Shown even at the limit: choosing it says why no one more can be added (checkMember).
      items.push({ id: 'new', label: { key: 'member.new' } });
      return items;
    },
    centres: async (vars) => (await booking.centresWithSeats(vars.pincode ?? '', id(vars, 'memberId'))).map(centreItem),
    sessions: async (vars, ctx) =>
      (await booking.sessionsWithSeats(id(vars, 'centreId'), id(vars, 'memberId'))).map((s) => sessionItem(s, ctx.language)),
    rescheduleSessions: async (vars, ctx) =>
      (await booking.rescheduleOptions(ctx.phone, id(vars, 'appointmentId'))).map((s) => sessionItem(s, ctx.language)),
    appointments: async (_vars, ctx) =>
      (await booking.liveAppointments(ctx.phone)).map((a) => ({
        id: String(a.id),
        label: { key: 'appointment.item', params: { memberName: a.memberName, day: shortDay(a.date, ctx.language) } },
      })),
  };

  return { actions, sources, validators };
}

function centreItem(centre: CentreOption): ListItem {
  return { id: String(centre.id), label: { key: 'centre.item', params: { centre: centre.name, free: seatCount(centre.freeSeats) } } };
}

/** The age group is always shown: two sessions on one day at one centre may differ only in it. */
function sessionItem(session: SessionOption, language: string): ListItem {
  const params = { day: shortDay(session.date, language), vaccine: session.vaccine, minAge: String(session.minAge), free: seatCount(session.freeSeats) };
  return { id: String(session.id), label: { key: 'session.item', params } };
}

/**
 * Where booking goes after a PIN code: on to the list, or to the screen that names the real reason
 * there is nothing to book. The outcome is the reason's kind; the flow maps each to its message.
 */
export function availabilityOutcome(availability: Availability, language: string): ActionResult {
  switch (availability.kind) {
    case 'too_young':
      return { outcome: availability.kind, vars: { minAge: String(availability.minAge) } };
    case 'dose_not_due':
      return { outcome: availability.kind, vars: { vaccine: availability.vaccine, day: shortDay(availability.earliest, language) } };
    default:
      return { outcome: availability.kind };
  }
}

/** The variables a screen about one appointment can show. */
export function appointmentVars(a: AppointmentView, language: string): Vars {
  return {
    appointmentId: String(a.id),
    memberName: a.memberName,
    centre: a.centreName,
    day: shortDay(a.date, language),
    vaccine: a.vaccine,
    dose: String(a.dose),
    ref: a.reference,
    time: sessionHours(a),
  };
}
