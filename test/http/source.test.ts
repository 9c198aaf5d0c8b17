import { describe, expect, it } from 'vitest';
import { requestSource, sourceKey, UNKNOWN_SOURCE } from '../../src/http/source.js';

describe('sourceKey', () => {
  it('keeps an IPv4 address', () => {
    expect(sourceKey('192.0.2.10')).toBe('192.0.2.10');
  });

  it('reduces an IPv6 address to its /64, whatever its spelling', () => {
    expect(sourceKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:0db8:0001:0002:ffff:ffff:ffff:ffff')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('[2001:db8:1:2::5]')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('2001:db8:1:3::1')).not.toBe(sourceKey('2001:db8:1:2::1'));
  });

  it('reads an IPv4-mapped IPv6 address as IPv4 (Node dual-stack sockets)', () => {
    expect(sourceKey('::ffff:192.0.2.10')).toBe('192.0.2.10');
    expect(sourceKey('::ffff:c000:20a')).toBe('192.0.2.10');
  });

  it('makes anything else the one unknown source', () => {
    for (const bad of [undefined, '', 'not-an-ip', '256.1.1.1', '1:2:3:4:5:6:7:8:9', '1::2::3', 'gggg::1', '::ffff:1.2.3']) expect(sourceKey(bad)).toBe(UNKNOWN_SOURCE);
  });
});

describe('requestSource', () => {
  it('uses the connection address when no header is configured, ignoring forwarding headers', () => {
    const headers = new Headers({ 'x-forwarded-for': '198.51.100.1' });
    expect(requestSource(headers, '192.0.2.10', {})).toBe('192.0.2.10');
  });

  it('uses the last entry of the configured header (the one the nearest proxy appended)', () => {
    const headers = new Headers({ 'x-forwarded-for': '198.51.100.1, 203.0.113.9' });
    expect(requestSource(headers, '10.0.0.1', { header: 'X-Forwarded-For' })).toBe('203.0.113.9');
  });

  it('is unknown when the configured header is missing', () => {
    expect(requestSource(new Headers(), '10.0.0.1', { header: 'X-Real-IP' })).toBe(UNKNOWN_SOURCE);
  });
});
