import type { Catalogue, Params } from './catalogue';
import { fitsScreen, type ScreenLimits } from './encoding';
import { fit, joinLines, plainText, type Fittable } from './fitting';
import { messageKeysOf, targetsOf, type Flow, type InputState, type ListState, type MenuState, type StateDef } from './flow';

/**
 * The generic dialogue engine: it knows states, inputs and transitions, never a particular flow.
 * Sessions are plain serialisable state, kept by the caller (Redis) between hops.
 */
export type Vars = Record<string, string>;

export interface DialogueContext {
  /** E.164 of the person talking to us. */
  phone: string;
  language: string;
  now: Date;
  /** Names the message being answered, where one exists (an inbound SMS), so a retried answer can be recognised. */
  requestId?: string;
}

export interface ListItem {
  id: string;
  label: { key: string; params?: Params };
}
export type Source = (vars: Vars, ctx: DialogueContext) => Promise<ListItem[]>;

export interface ActionResult {
  outcome: string;
  vars?: Vars;
  /** The user chose a language: every screen from here on is in it. */
  language?: string;
  /** After a step that wrote something, "0 Back" must not walk back into it. */
  clearHistory?: boolean;
  /**
   * The items of the list this action leads to, when the action had to read them anyway (a search
   * that decides where to go): that list shows them instead of asking its source again on this hop.
   */
  items?: ListItem[];
}
export type Action = (vars: Vars, ctx: DialogueContext) => Promise<ActionResult>;

export type Validation = { ok: true; value: string } | { ok: false; reason: string; params?: Params };
export type Validator = (input: string, vars: Vars, ctx: DialogueContext) => Validation;

export interface Bindings {
  actions: Record<string, Action>;
  sources: Record<string, Source>;
  validators: Record<string, Validator>;
}

export interface DialogueSession {
  flow: string;
  state: string;
  language: string;
  vars: Vars;
  /** Screens visited, for "0 Back". */
  history: string[];
  page: number;
  /** Invalid answers in a row on the current screen. */
  retries: number;
  /** Ids of the list items on the current page, in the order shown. */
  itemIds: string[];
  hasMore: boolean;
}

export interface Screen {
  end: boolean;
  text: string;
}

interface Reason {
  key: string;
  params?: Params;
}

export const NAV = { back: '0', home: '00', more: '98' } as const;
const MAX_INVALID_ANSWERS = 3;
const MAX_ACTION_CHAIN = 12;

export class FlowError extends Error {}

export class DialogueEngine {
  constructor(
    private readonly flows: Map<string, Flow>,
    private readonly catalogue: Catalogue,
    private readonly bindings: Bindings,
    private readonly limits: ScreenLimits,
    /** The closing message after too many invalid answers ("dial again" suits USSD, not SMS). */
    private readonly tooManyAttemptsKey = 'error.too_many_attempts',
  ) {
    for (const flow of flows.values()) {
      const problems = [...checkFlow(flow, catalogue, bindings), ...missingHandovers(flow, flows)];
      if (problems.length) throw new FlowError(`flow "${flow.id}": ${problems.join('; ')}`);
    }
  }

  hasFlow(id: string): boolean {
    return this.flows.has(id);
  }

  async start(flowId: string, ctx: DialogueContext, vars: Vars = {}): Promise<{ session: DialogueSession; screen: Screen }> {
    const flow = this.flow(flowId);
    const session: DialogueSession = {
      flow: flowId,
      state: flow.start,
      language: ctx.language,
      vars: { ...vars },
      history: [],
      page: 0,
      retries: 0,
      itemIds: [],
      hasMore: false,
    };
    return this.enter(session, flow.start, { ...ctx });
  }

  /**
   * The screen of one state with the given variables (and list items), without running anything:
   * for the flows test and for inspecting a flow.
   */
  async preview(flowId: string, stateName: string, ctx: DialogueContext, vars: Vars, options: { items?: ListItem[]; page?: number } = {}): Promise<Screen> {
    const session: DialogueSession = {
      flow: flowId,
      state: stateName,
      language: ctx.language,
      vars,
      history: stateName === this.flow(flowId).start ? [] : ['(previous)'],
      page: options.page ?? 0,
      retries: 0,
      itemIds: [],
      hasMore: false,
    };
    return (await this.render(session, ctx, undefined, options.items)).screen;
  }

  /** Whether a session dropped on its current screen is worth offering to continue. */
  isResumable(session: DialogueSession): boolean {
    const state = this.state(session);
    return state.type !== 'end' && state.type !== 'action' && state.resumable !== false;
  }

  /** The current screen again, as it is now (a list is read afresh): for resuming a dropped session. */
  async redisplay(current: DialogueSession, context: DialogueContext): Promise<{ session: DialogueSession; screen: Screen }> {
    const session = structuredClone(current);
    session.page = 0;
    session.retries = 0;
    return this.render(session, { ...context, language: session.language });
  }

  /** One answer from the user on the current screen. Does not mutate the given session. */
  async respond(current: DialogueSession, rawInput: string, context: DialogueContext): Promise<{ session: DialogueSession; screen: Screen }> {
    const session = structuredClone(current);
    const ctx = { ...context, language: session.language };
    const input = rawInput.trim();
    const state = this.state(session);

    if (state.type === 'end') return this.render(session, ctx);
    if (input === NAV.home) {
      session.history = [];
      return this.enter(session, this.flow(session.flow).start, ctx);
    }
    if (input === NAV.back) {
      if (state.type === 'list' && session.page > 0) {
        session.page -= 1;
        return this.render(session, ctx);
      }
      const previous = session.history.pop();
      return previous ? this.enter(session, previous, ctx, { keepHistory: true }) : this.render(session, ctx);
    }

    switch (state.type) {
      case 'menu':
        return this.answerMenu(session, state, input, ctx);
      case 'input':
        return this.answerInput(session, state, input, ctx);
      case 'list':
        return this.answerList(session, state, input, ctx);
      case 'action':
        throw new FlowError(`session rests on action state "${session.state}"`);
    }
  }

  private async answerMenu(session: DialogueSession, state: MenuState, input: string, ctx: DialogueContext) {
    const option = /^[1-9]$/.test(input) ? state.options[Number(input) - 1] : undefined;
    if (!option) return this.reject(session, ctx, { key: 'error.invalid_choice' });
    if (state.store && option.value !== undefined) session.vars[state.store] = option.value;
    return this.advance(session, option.next, ctx);
  }

  private async answerInput(session: DialogueSession, state: InputState, input: string, ctx: DialogueContext) {
    const result = this.binding('validators', state.validator)(input, session.vars, ctx);
    if (!result.ok) return this.reject(session, ctx, { key: result.reason, params: result.params });
    session.vars[state.store] = result.value;
    return this.advance(session, state.next, ctx);
  }

  private async answerList(session: DialogueSession, state: ListState, input: string, ctx: DialogueContext) {
    if (input === NAV.more && session.hasMore) {
      session.page += 1;
      return this.render(session, ctx);
    }
    const chosen = /^\d{1,2}$/.test(input) ? session.itemIds[Number(input) - 1] : undefined;
    if (chosen === undefined) return this.reject(session, ctx, { key: 'error.invalid_choice' });
    session.vars[state.store] = chosen;
    return this.advance(session, state.next, ctx);
  }

  private async reject(session: DialogueSession, ctx: DialogueContext, reason: Reason) {
    session.retries += 1;
    if (session.retries >= MAX_INVALID_ANSWERS) {
      return { session, screen: { end: true, text: fit(this.catalogue.compose(ctx.language, this.tooManyAttemptsKey), this.limits) } };
    }
    return this.render(session, ctx, reason);
  }

  private advance(session: DialogueSession, next: string, ctx: DialogueContext) {
    session.history.push(session.state);
    return this.enter(session, next, ctx, { keepHistory: true });
  }

  /** Moves to a state, running any actions on the way, and renders the screen where it rests. */
  private async enter(
    session: DialogueSession,
    target: string,
    ctx: DialogueContext,
    options: { keepHistory?: boolean } = {},
  ): Promise<{ session: DialogueSession; screen: Screen }> {
    if (!options.keepHistory) session.history = [];
    let name = target;
    // The closing words of a flow that handed over, shown above the next flow's first screen.
    let notice: Reason | undefined;
    let handed: ListItem[] | undefined;
    for (let step = 0; step < MAX_ACTION_CHAIN; step++) {
      const state = this.flow(session.flow).states[name]!;
      session.state = name;
      session.page = 0;
      session.retries = 0;
      if (state.type === 'action') {
        const result = await this.binding('actions', state.action)(session.vars, ctx);
        handed = result.items;
        Object.assign(session.vars, result.vars);
        if (result.language) session.language = ctx.language = result.language;
        if (result.clearHistory) session.history = [];
        const next = state.outcomes[result.outcome];
        if (!next) throw new FlowError(`action "${state.action}" gave outcome "${result.outcome}", which state "${name}" does not handle`);
        name = next;
        continue;
      }
      if (state.type === 'end' && state.then) {
        notice = { key: state.prompt, params: { ...session.vars } };
        session.flow = state.then;
        session.history = [];
        name = this.flow(state.then).start;
        continue;
      }
      if (state.type === 'list') {
        const items = handed ?? (await this.binding('sources', state.source)(session.vars, ctx));
        if (items.length === 0) {
          name = state.empty;
          continue;
        }
        return this.render(session, ctx, notice, items);
      }
      return this.render(session, ctx, notice);
    }
    throw new FlowError(`more than ${MAX_ACTION_CHAIN} actions in a row from "${target}"`);
  }

  private async render(session: DialogueSession, ctx: DialogueContext, because?: Reason, listItems?: ListItem[]) {
    const state = this.state(session);
    const t = (key: string, params: Params = {}) => this.catalogue.compose(ctx.language, key, params);
    const prompt = 'prompt' in state ? t(state.prompt, session.vars) : [];
    const reason = because ? t(because.key, because.params) : undefined;
    const back = session.history.length > 0 ? [t('nav.back')] : [];
    let lines: Fittable[];

    switch (state.type) {
      case 'end':
        return { session, screen: { end: true, text: this.withReason(reason, [prompt]) } };
      case 'menu':
        lines = [prompt, ...state.options.map((o, i) => [`${i + 1} `, ...t(o.label, session.vars)]), ...back];
        break;
      case 'input':
        lines = [prompt, ...back];
        break;
      case 'list': {
        const items = listItems ?? (await this.binding('sources', state.source)(session.vars, ctx));
        if (items.length === 0) return this.enter(session, state.empty, ctx, { keepHistory: true });
        const undeclared = items.find((item) => !state.items.includes(item.label.key));
        if (undeclared) throw new FlowError(`source "${state.source}" labels an item "${undeclared.label.key}", not declared in state "${session.state}"`);
        lines = this.renderListPage(session, items, ctx, prompt, back);
        break;
      }
      case 'action':
        throw new FlowError(`cannot render action state "${session.state}"`);
    }
    return { session, screen: { end: false, text: this.withReason(reason, lines) } };
  }

  /** Packs as many items as fit on the screen; the page boundaries are recomputed from the start each time. */
  private renderListPage(session: DialogueSession, items: ListItem[], ctx: DialogueContext, prompt: Fittable, back: Fittable[]): Fittable[] {
    const labels = items.map((item) => this.catalogue.compose(ctx.language, item.label.key, item.label.params));
    const more = this.catalogue.compose(ctx.language, 'nav.more');
    const nav = [...back];
    let start = 0;
    let page: Fittable[] = [];
    for (let p = 0; p <= session.page && start < items.length; p++) {
      page = [];
      let end = start;
      while (end < items.length) {
        const candidate = [...page, [`${page.length + 1} `, ...labels[end]!]];
        const tail = end + 1 < items.length ? [more, ...nav] : nav;
        // A page's first item is always shown: fitting the screen shortens its names if it must.
        if (page.length > 0 && !fitsScreen(plainText(joinLines([prompt, ...candidate, ...tail])), this.limits)) break;
        page = candidate;
        end += 1;
      }
      if (p < session.page) start = end;
      else {
        session.itemIds = items.slice(start, end).map((item) => item.id);
        session.hasMore = end < items.length;
      }
    }
    if (start >= items.length && session.page > 0) {
      // The list shrank since the user paged forward: show its last page again from the top.
      session.page = 0;
      return this.renderListPage(session, items, ctx, prompt, back);
    }
    return [prompt, ...page, ...(session.hasMore ? [more] : []), ...nav];
  }

  /**
   * The screen, fitted to the limit of the encoding its text needs. An error line goes above it
   * when it fits (shortening names if need be); otherwise the screen alone is shown again.
   */
  private withReason(reason: Fittable | undefined, lines: Fittable[]): string {
    const screen = joinLines(lines);
    if (!reason) return fit(screen, this.limits);
    const withReason = fit(joinLines([reason, screen]), this.limits);
    return fitsScreen(withReason, this.limits) ? withReason : fit(screen, this.limits);
  }

  private flow(id: string): Flow {
    const flow = this.flows.get(id);
    if (!flow) throw new FlowError(`no flow "${id}"`);
    return flow;
  }

  private state(session: DialogueSession): StateDef {
    const state = this.flow(session.flow).states[session.state];
    if (!state) throw new FlowError(`flow "${session.flow}" has no state "${session.state}"`);
    return state;
  }

  private binding<K extends keyof Bindings>(kind: K, name: string): Bindings[K][string] {
    const found = this.bindings[kind][name];
    if (!found) throw new FlowError(`no ${kind.slice(0, -1)} named "${name}"`);
    return found as Bindings[K][string];
  }
}

/** Flows an end state hands over to must be run by the same engine. */
function missingHandovers(flow: Flow, flows: Map<string, Flow>): string[] {
  return Object.entries(flow.states).flatMap(([name, state]) =>
    state.type === 'end' && state.then && !flows.has(state.then) ? [`state "${name}" hands over to missing flow "${state.then}"`] : [],
  );
}

/** Everything a flow refers to must exist: states, message keys in every language, bindings. */
export function checkFlow(flow: Flow, catalogue: Catalogue, bindings: Bindings): string[] {
  const problems: string[] = [];
  if (!flow.states[flow.start]) problems.push(`start state "${flow.start}" does not exist`);
  for (const [name, state] of Object.entries(flow.states)) {
    for (const target of targetsOf(state)) {
      if (!flow.states[target]) problems.push(`state "${name}" leads to missing state "${target}"`);
    }
    for (const key of messageKeysOf(state)) {
      for (const language of catalogue.languages()) {
        if (!catalogue.has(language, key)) problems.push(`message "${key}" (state "${name}") missing in ${language}`);
      }
    }
    if (state.type === 'action' && !bindings.actions[state.action]) problems.push(`state "${name}" uses unknown action "${state.action}"`);
    if (state.type === 'list' && !bindings.sources[state.source]) problems.push(`state "${name}" uses unknown source "${state.source}"`);
    if (state.type === 'input' && !bindings.validators[state.validator]) problems.push(`state "${name}" uses unknown validator "${state.validator}"`);
  }
  return problems;
}
