/**
 * One browser's cookies at the broker, whatever serves it: a Node test broker's `request`, or a
 * Worker's fetch on workerd. Only the name=value of each Set-Cookie is kept; Max-Age=0 deletes.
 */
export class CookieJar {
  readonly cookies = new Map<string, string>();

  constructor(private readonly send: (path: string, init: RequestInit) => Promise<Response>) {}

  private absorb(res: Response): Response {
    for (const header of res.headers.getSetCookie()) {
      const [pair] = header.split(';');
      const eq = pair!.indexOf('=');
      if (/max-age=0/i.test(header)) this.cookies.delete(pair!.slice(0, eq));
      else this.cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return res;
  }

  private header(): Record<string, string> {
    return this.cookies.size === 0 ? {} : { cookie: [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
  }

  async get(path: string): Promise<Response> {
    return this.absorb(await this.send(path, { headers: this.header() }));
  }

  async post(path: string, form: Record<string, string>): Promise<Response> {
    const body = new URLSearchParams(form).toString();
    return this.absorb(await this.send(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.header() }, body }));
  }
}
