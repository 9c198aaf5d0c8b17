// The part of the `cloudflare:workers` module the suite uses (an ambient declaration: this file has no imports).
declare module 'cloudflare:workers' {
  export const env: Cloudflare.Env;
  /** Loopback to the main module's exports (wrangler.toml `main`). */
  export const exports: { default: { fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response> } };
}
