import { Catalogue } from '../../src/dialogue/catalogue';
import { DialogueEngine, FlowError } from '../../src/dialogue/engine';
import type { Flow } from '../../src/dialogue/flow';

/** An end state with `then` hands the conversation over to another flow of the same engine. */
const catalogue = new Catalogue({ en: { 'a.done': 'Done: {name}.', 'b.ask': 'Next question?' } }, { name: { maxLength: 20, example: 'Asha' } });
const bindings = { actions: {}, sources: {}, validators: { any: (input: string) => ({ ok: true as const, value: input }) } };
const first: Flow = {
  id: 'a',
  version: 1,
  start: 'ask',
  states: { ask: { type: 'input', prompt: 'b.ask', validator: 'any', store: 'name', next: 'done' }, done: { type: 'end', prompt: 'a.done', then: 'b' } },
};
const second: Flow = { id: 'b', version: 1, start: 'ask', states: { ask: { type: 'input', prompt: 'b.ask', validator: 'any', store: 'answer', next: 'ask' } } };
const ctx = { phone: '+910000000000', language: 'en', now: new Date() };

describe('handing a conversation over', () => {
  it('shows the closing words above the next flow\'s first screen, with the variables carried over and no way back', async () => {
    const engine = new DialogueEngine(new Map([['a', first], ['b', second]]), catalogue, bindings, { gsm7: 160, ucs2: 70 });
    const { session } = await engine.start('a', ctx);
    const next = await engine.respond(session, 'Asha', ctx);
    expect(next.screen).toEqual({ end: false, text: 'Done: Asha.\nNext question?' });
    expect(next.session).toMatchObject({ flow: 'b', state: 'ask', vars: { name: 'Asha' }, history: [] });
  });

  it('is refused at start-up when the flow it names is not run by the same engine', () => {
    expect(() => new DialogueEngine(new Map([['a', first]]), catalogue, bindings, { gsm7: 160, ucs2: 70 })).toThrow(
      new FlowError('flow "a": state "done" hands over to missing flow "b"'),
    );
  });
});
