import { Catalogue } from '../../src/dialogue/catalogue';
import { DialogueEngine, type ListItem } from '../../src/dialogue/engine';
import type { Flow } from '../../src/dialogue/flow';

/**
 * An action that had to read a list to decide where to go hands it to the list it leads to, which
 * shows it on that hop; a later hop on the list (its next page, or coming back) asks the source.
 */
const catalogue = new Catalogue({ en: { 'pick.prompt': 'Pick one:', 'pick.item': '{name}', 'none.prompt': 'Nothing.', 'nav.more': '98 More', 'nav.back': '0 Back' } }, { name: { maxLength: 20, example: 'Asha' } });
const item = (name: string): ListItem => ({ id: name, label: { key: 'pick.item', params: { name } } });
const flow: Flow = {
  id: 'f',
  version: 1,
  start: 'search',
  states: {
    search: { type: 'action', action: 'search', outcomes: { found: 'pick', none: 'none' } },
    pick: { type: 'list', prompt: 'pick.prompt', source: 'things', items: ['pick.item'], store: 'thing', next: 'none', empty: 'none' },
    none: { type: 'end', prompt: 'none.prompt' },
  },
};
const ctx = { phone: '+910000000000', language: 'en', now: new Date() };

function engineWith(handed: ListItem[] | undefined, fromSource: ListItem[]) {
  const bindings = {
    actions: { search: async () => ({ outcome: 'found', ...(handed ? { items: handed } : {}) }) },
    sources: { things: async () => fromSource },
    validators: {},
  };
  return new DialogueEngine(new Map([['f', flow]]), catalogue, bindings, { gsm7: 160, ucs2: 70 });
}

describe('a list handed over by the action before it', () => {
  it('is what the list shows on that hop', async () => {
    const { screen } = await engineWith([item('Handed')], [item('Source')]).start('f', ctx);
    expect(screen).toEqual({ end: false, text: 'Pick one:\n1 Handed' });
  });

  it('is read from the source when the action hands nothing', async () => {
    const { screen } = await engineWith(undefined, [item('Source')]).start('f', ctx);
    expect(screen).toEqual({ end: false, text: 'Pick one:\n1 Source' });
  });

  it('goes to the empty state when what is handed is empty', async () => {
    const { screen } = await engineWith([], [item('Source')]).start('f', ctx);
    expect(screen).toEqual({ end: true, text: 'Nothing.' });
  });
});
