import selfsigned from 'selfsigned';

/** A self-signed certificate and its private key (PKCS#8 PEM), valid from a day ago for a year. */
export async function makeKeyPair(cn: string, options: { keyType?: 'rsa' | 'ec' } = {}): Promise<{ key: string; cert: string }> {
  const now = Date.now();
  const generated = await selfsigned.generate([{ name: 'commonName', value: cn }], {
    keyType: options.keyType ?? 'rsa',
    ...(options.keyType === 'ec' ? { curve: 'P-256' as const } : { keySize: 2048 }),
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 86_400_000),
    notAfterDate: new Date(now + 365 * 86_400_000),
  });
  return { key: generated.private, cert: generated.cert };
}
