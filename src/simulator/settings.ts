import type { ProgrammeService } from '../domain/programme';
import type { SimulatorSettings } from './wire';

export type { SimulatorSettings } from './wire';

/** The short code the simulated phones text: Africa's Talking's callback carries it in `to`, Tika reads only `from`. */
export const SIMULATOR_SHORT_CODE = '21512';
/** Operators close an idle USSD session after a minute or three; the simulator does the same. */
export const OPERATOR_SESSION_SECONDS = 180;
/** Vaccinator phones offered on the page: the first is shown, the others can be added. */
const VACCINATORS_SHOWN = 20;


export interface SimulatorConfig {
  USSD_SERVICE_CODE: string;
  WEBHOOK_SECRET: string;
  USSD_MAX_GSM7: number;
  USSD_MAX_UCS2: number;
  USSD_SESSION_TTL_SECONDS: number;
  /** Every SMS goes to the sandbox provider. */
  sandboxOnly: boolean;
}

export async function simulatorSettings(config: SimulatorConfig, programme: ProgrammeService): Promise<SimulatorSettings> {
  const [vaccinators, centres] = await Promise.all([programme.listVaccinators({ active: true }, { limit: VACCINATORS_SHOWN, offset: 0 }), programme.listCentres({ active: true })]);
  const centreName = new Map(centres.map((centre) => [centre.id, centre.name]));
  return {
    serviceCode: config.USSD_SERVICE_CODE,
    webhookKey: config.WEBHOOK_SECRET,
    smsShortCode: SIMULATOR_SHORT_CODE,
    limits: { gsm7: config.USSD_MAX_GSM7, ucs2: config.USSD_MAX_UCS2 },
    // Tika keeps a session longer (to resume it); the operator's own timeout is the shorter one.
    sessionTimeoutSeconds: Math.min(config.USSD_SESSION_TTL_SECONDS, OPERATOR_SESSION_SECONDS),
    sandbox: config.sandboxOnly,
    vaccinators: vaccinators
      .filter((vaccinator) => centreName.has(vaccinator.centreId))
      .map((vaccinator) => ({ phone: vaccinator.phone, name: vaccinator.name, centre: centreName.get(vaccinator.centreId)! })),
  };
}
