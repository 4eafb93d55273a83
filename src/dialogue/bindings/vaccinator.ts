import { parseTarget, type VaccinationService, type VerifyResult } from '../../domain/vaccination';
import type { Bindings, Vars } from '../engine';

/** The named actions, sources and validators of flows/vaccinator.flow.json. */
export function vaccinatorBindings(vaccination: VaccinationService, defaultCountry: string): Bindings {
  const targetOf = (vars: Vars) => parseTarget(vars.target ?? '', defaultCountry);
  const bookings = async (vars: Vars, phone: string) => {
    const target = targetOf(vars);
    return target ? vaccination.bookingsToday(phone, target) : [];
  };

  return {
    actions: {
      // The audited, limited look-up; the list screen after it only redraws what this found.
      findBookingsToday: async (vars, ctx) => {
        const target = targetOf(vars);
        if (!target) return { outcome: 'none' };
        const result = await vaccination.lookUp(ctx.phone, target, 'ussd');
        if (result.kind === 'limit') return { outcome: 'limit' };
        return { outcome: result.kind === 'found' && result.bookings.length ? 'some' : 'none' };
      },
      verifyCode: async (vars, ctx) => {
        const result = await vaccination.verify({
          vaccinatorPhone: ctx.phone,
          target: { kind: 'appointment', appointmentId: Number(vars.appointmentId) },
          code: vars.code ?? '',
          channel: 'ussd',
        });
        // The code has done its work: it must not rest in the session store.
        return { outcome: result.kind, vars: { code: '', ...resultVars(result) }, clearHistory: result.kind === 'accepted' };
      },
    },
    sources: {
      bookingsToday: async (vars, ctx) =>
        (await bookings(vars, ctx.phone)).map((b) => ({
          id: String(b.id),
          label: { key: 'vax.booking_item', params: { memberName: b.memberName, dose: b.dose } },
        })),
    },
    validators: {
      target: (input) =>
        parseTarget(input, defaultCountry) ? { ok: true, value: input.replace(/\s/g, '') } : { ok: false, reason: 'error.target' },
      code: (input) => (/^\d{4}$/.test(input) ? { ok: true, value: input } : { ok: false, reason: 'error.code' }),
    },
  };
}

function resultVars(result: VerifyResult): Vars {
  switch (result.kind) {
    case 'accepted':
      return { memberName: result.appointment.memberName, dose: String(result.appointment.dose), vaccine: result.appointment.vaccine };
    case 'wrong_code':
      return { attemptsLeft: String(result.attemptsLeft) };
    case 'already_vaccinated':
      return { memberName: result.memberName };
    default:
      return {};
  }
}

/** One set of bindings from several flows' sets; a name bound twice is a mistake caught at start-up. */
export function mergeBindings(...sets: Bindings[]): Bindings {
  const merged: Bindings = { actions: {}, sources: {}, validators: {} };
  for (const set of sets) {
    for (const kind of ['actions', 'sources', 'validators'] as const) {
      for (const [name, binding] of Object.entries(set[kind])) {
        if (merged[kind][name]) throw new Error(`${kind} "${name}" is bound twice`);
        (merged[kind] as Record<string, unknown>)[name] = binding;
      }
    }
  }
  return merged;
}
