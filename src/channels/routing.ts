/**
 * Which provider sends to which numbers: SMS_ROUTES such as `+91=exotel,*=africastalking`.
 * The longest matching prefix wins; `*` takes every number no prefix matches and must be there,
 * so that every message has a way out.
 */
export interface Route {
  /** `+` and digits, or `*`. */
  prefix: string;
  provider: string;
}

const ROUTE = /^(\*|\+\d{1,6})=([a-z0-9_-]+)$/;

export type ParsedRoutes = { ok: true; routes: Route[] } | { ok: false; problems: string[] };

export function parseRoutes(text: string, knownProviders: readonly string[]): ParsedRoutes {
  const problems: string[] = [];
  const routes: Route[] = [];
  for (const entry of text.split(',').map((part) => part.trim()).filter(Boolean)) {
    const match = ROUTE.exec(entry.replace(/\s*=\s*/, '='));
    if (!match) {
      problems.push(`'${entry}' is not prefix=provider (a prefix is + and up to 6 digits, or *)`);
      continue;
    }
    const [, prefix, provider] = match as unknown as [string, string, string];
    if (!knownProviders.includes(provider)) problems.push(`'${provider}' is not a provider (one of: ${knownProviders.join(', ')})`);
    if (routes.some((route) => route.prefix === prefix)) problems.push(`${prefix} is routed twice`);
    routes.push({ prefix, provider });
  }
  if (!routes.some((route) => route.prefix === '*')) problems.push('needs a catch-all route such as *=africastalking, so that every number has a provider');
  return problems.length ? { ok: false, problems } : { ok: true, routes };
}

/** Picks the provider for a number: longest prefix first, then `*`. */
export class SmsRouter {
  private readonly ordered: Route[];

  constructor(routes: readonly Route[]) {
    // '*' sorts last: it has no digits to match.
    this.ordered = [...routes].sort((a, b) => specificity(b) - specificity(a));
  }

  providerFor(phone: string): string {
    const route = this.ordered.find((candidate) => candidate.prefix === '*' || phone.startsWith(candidate.prefix));
    // parseRoutes guarantees a catch-all.
    return route!.provider;
  }

  get providers(): string[] {
    return [...new Set(this.ordered.map((route) => route.provider))];
  }
}

const specificity = (route: Route) => (route.prefix === '*' ? -1 : route.prefix.length);
