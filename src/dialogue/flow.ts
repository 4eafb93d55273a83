import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

/**
 * A flow is a document (flows/<id>.flow.json): named states, each of one of five kinds.
 * - menu:   a prompt and numbered options; an option may store a value and names the next state.
 * - input:  a prompt and free text checked by a named validator, stored in a variable.
 * - list:   numbered items from a named source (paginated with "98 More"), the chosen id stored.
 * - action: no screen; runs a named action whose outcome picks the next state.
 * - end:    a closing screen; with `then`, a notice above the first screen of another flow, which
 *           the conversation continues in (its variables carried over; the notice is left out
 *           when the two do not fit one screen together).
 * Prompts and labels are message keys; {placeholders} are filled from the session's variables.
 */
const stateName = z.string().regex(/^[a-z][a-z0-9_]*$/);
const messageKey = z.string().regex(/^[a-z0-9_.]+$/);
const variable = z.string().regex(/^[a-zA-Z][a-zA-Z0-9]*$/);

/** false on screens where a dropped session is not worth resuming (a main menu). */
const resumable = z.boolean().optional();

const menuState = z.object({
  type: z.literal('menu'),
  prompt: messageKey,
  resumable,
  store: variable.optional(),
  options: z.array(z.object({ label: messageKey, value: z.string().optional(), next: stateName })).min(1).max(9),
});
const inputState = z.object({
  type: z.literal('input'),
  prompt: messageKey,
  resumable,
  validator: z.string(),
  store: variable,
  next: stateName,
});
const listState = z.object({
  type: z.literal('list'),
  prompt: messageKey,
  resumable,
  source: z.string(),
  store: variable,
  next: stateName,
  /** Message keys the source may label its items with (checked like prompts). */
  items: z.array(messageKey).min(1),
  /** Where to go when the source has nothing to offer. */
  empty: stateName,
});
const actionState = z.object({
  type: z.literal('action'),
  action: z.string(),
  outcomes: z.record(z.string(), stateName),
});
const endState = z.object({ type: z.literal('end'), prompt: messageKey, then: z.string().regex(/^[a-z][a-z0-9_]*$/).optional() });

export const stateSchema = z.discriminatedUnion('type', [menuState, inputState, listState, actionState, endState]);
export const flowSchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9_]*$/),
  version: z.literal(1),
  start: stateName,
  states: z.record(stateName, stateSchema),
});

export type StateDef = z.infer<typeof stateSchema>;
export type MenuState = z.infer<typeof menuState>;
export type InputState = z.infer<typeof inputState>;
export type ListState = z.infer<typeof listState>;
export type ActionState = z.infer<typeof actionState>;
export type Flow = z.infer<typeof flowSchema>;

export function loadFlows(dir: string): Map<string, Flow> {
  const flows = new Map<string, Flow>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.flow.json')).sort()) {
    const result = flowSchema.safeParse(JSON.parse(readFileSync(join(dir, file), 'utf8')));
    if (!result.success) {
      throw new Error(`flows/${file} is not a valid flow: ${result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    }
    flows.set(result.data.id, result.data);
  }
  return flows;
}

/** Where a state can lead: used to check a flow before it runs. */
export function targetsOf(state: StateDef): string[] {
  switch (state.type) {
    case 'menu':
      return state.options.map((o) => o.next);
    case 'input':
      return [state.next];
    case 'list':
      return [state.next, state.empty];
    case 'action':
      return Object.values(state.outcomes);
    case 'end':
      return [];
  }
}

/** Message keys a state shows. */
export function messageKeysOf(state: StateDef): string[] {
  switch (state.type) {
    case 'menu':
      return [state.prompt, ...state.options.map((o) => o.label)];
    case 'list':
      return [state.prompt, ...state.items];
    case 'action':
      return [];
    default:
      return [state.prompt];
  }
}
