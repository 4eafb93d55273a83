import { isIdType, normaliseIdNumber } from '../../domain/identity';
import type { Validator } from '../engine';

/** Free-text answers, checked and put in canonical form before they reach the domain. */
export const validators: Record<string, Validator> = {
  name: (input) => {
    const name = input.replace(/\s+/g, ' ').trim();
    return /^[\p{L}\p{M} .'-]{2,40}$/u.test(name) ? { ok: true, value: name } : { ok: false, reason: 'error.name' };
  },

  birthYear: (input, _vars, ctx) => {
    const maxYear = ctx.now.getUTCFullYear();
    const minYear = maxYear - 120;
    const year = Number(input);
    return /^\d{4}$/.test(input) && year >= minYear && year <= maxYear
      ? { ok: true, value: input }
      : { ok: false, reason: 'error.birth_year', params: { minYear, maxYear } };
  },

  idNumber: (input, vars) => {
    const type = vars.idType ?? '';
    const value = isIdType(type) ? normaliseIdNumber(type, input) : null;
    return value ? { ok: true, value } : { ok: false, reason: 'error.id_number' };
  },

  pincode: (input) => (/^[1-9]\d{5}$/.test(input) ? { ok: true, value: input } : { ok: false, reason: 'error.pincode' }),
};
