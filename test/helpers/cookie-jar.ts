import { cookieHeader, keepCookies } from '../../examples/cookies.js';

/**
 * One browser's cookies at the broker, whatever serves it: a Node test broker's `request`, or a
 * Worker's fetch on workerd, keeping cookies as the demos' browser does (examples/cookies.ts).
 */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  constructor(private readonly send: (path: string, init: RequestInit) => Promise<Response>) {}

  private absorb(res: Response): Response {
    keepCookies(this.cookies, res);
    return res;
  }

  private header(): Record<string, string> {
    return cookieHeader(this.cookies);
  }

  async get(path: string): Promise<Response> {
    return this.absorb(await this.send(path, { headers: this.header() }));
  }

  async post(path: string, form: Record<string, string>): Promise<Response> {
    const body = new URLSearchParams(form).toString();
    return this.absorb(await this.send(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.header() }, body }));
  }
}
