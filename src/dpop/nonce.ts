import { base64url } from 'jose';
import { DPOP_NONCE_WINDOW } from '../constants.js';

/**
 * Server-provided DPoP nonces (RFC 9449 §8), stateless: the nonce of a window is an HMAC of the
 * window's number under a secret every instance shares, so any instance accepts what another
 * issued, and nothing is stored per nonce. The current and the previous window's nonces are
 * accepted: a nonce handed out at the end of a window still works for the retry. WebCrypto only.
 */
export class DpopNonces {
  constructor(private readonly key: CryptoKey) {}

  /** A 256-bit secret (any string) → the nonce source. */
  static async fromSecret(secret: string): Promise<DpopNonces> {
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new DpopNonces(key);
  }

  /** The nonce to hand out now (the `DPoP-Nonce` header). */
  current(now: number): Promise<string> {
    return this.ofWindow(Math.floor(now / DPOP_NONCE_WINDOW));
  }

  /** The nonces a proof may carry now: this window's and the previous one's. */
  async accepted(now: number): Promise<string[]> {
    const window = Math.floor(now / DPOP_NONCE_WINDOW);
    return Promise.all([this.ofWindow(window), this.ofWindow(window - 1)]);
  }

  private async ofWindow(window: number): Promise<string> {
    const mac = await crypto.subtle.sign('HMAC', this.key, new TextEncoder().encode(`dpop-nonce:${window}`));
    return base64url.encode(new Uint8Array(mac));
  }
}
