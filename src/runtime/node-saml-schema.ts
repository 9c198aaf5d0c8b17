import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as samlify from 'samlify';
import { validateXML } from 'xmllint-wasm';

/**
 * XML Schema validation of SAML messages against the OASIS SAML 2.0 protocol and assertion schemas
 * (with XML-DSig and XML-Enc), by libxml2's xmllint compiled to WebAssembly (`xmllint-wasm`): no
 * Java, no native binary. The schema files are the ones `@authenio/samlify-xmllint-wasm` (samlify's
 * own validator module) ships; that module's `validate()` is not used because it writes every
 * failing document to the console.
 *
 * The same function is registered as samlify's validator, which samlify refuses to run without.
 */

const SCHEMA_FILES = [
  'saml-schema-protocol-2.0.xsd',
  'saml-schema-assertion-2.0.xsd',
  'xmldsig-core-schema.xsd',
  'xenc-schema.xsd',
  'datatypes.dtd',
  'XMLSchema.dtd',
] as const;

/**
 * XML Encryption 1.1 names its MGF in an element of its own namespace, which the XML-Enc 1.0 schema
 * admits only through a strict wildcard: declared here (just that element, as the W3C schema has
 * it: an Algorithm URI), so `xmlenc11#rsa-oaep` with an explicit MGF validates.
 */
const XENC11_MINIMAL = `<?xml version="1.0" encoding="UTF-8"?>
<schema xmlns="http://www.w3.org/2001/XMLSchema" xmlns:xenc11="http://www.w3.org/2009/xmlenc11#"
        targetNamespace="http://www.w3.org/2009/xmlenc11#" elementFormDefault="qualified" version="0.1">
  <element name="MGF" type="xenc11:MGFType"/>
  <complexType name="MGFType">
    <attribute name="Algorithm" type="anyURI" use="required"/>
  </complexType>
</schema>`;

/** The schema xmllint is given: it only imports the SAML protocol schema (which imports the rest) and the above. */
const BUNDLE = `<?xml version="1.0" encoding="UTF-8"?>
<schema xmlns="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:x-xaa-broker:saml-schema-bundle" version="1">
  <import namespace="urn:oasis:names:tc:SAML:2.0:protocol" schemaLocation="saml-schema-protocol-2.0.xsd"/>
  <import namespace="http://www.w3.org/2009/xmlenc11#" schemaLocation="xenc11-minimal.xsd"/>
</schema>`;

interface LoadedSchemas {
  preload: { fileName: string; contents: string }[];
}

let schemas: Promise<LoadedSchemas> | undefined;

function loadSchemas(): Promise<LoadedSchemas> {
  schemas ??= (async () => {
    const require = createRequire(import.meta.url);
    const dir = join(dirname(require.resolve('@authenio/samlify-xmllint-wasm')), 'schemas');
    const files = await Promise.all(SCHEMA_FILES.map(async (fileName) => ({ fileName, contents: await readFile(join(dir, fileName), 'utf8') })));
    return { preload: [...files, { fileName: 'xenc11-minimal.xsd', contents: XENC11_MINIMAL }] };
  })();
  schemas.catch(() => {
    schemas = undefined;
  });
  return schemas;
}

export interface SchemaResult {
  valid: boolean;
  /** The first error xmllint reported, without the file name. */
  error?: string;
}

/**
 * Validates a SAML protocol message (or a bare assertion, a global element of the imported
 * assertion schema). Never throws for an invalid document; throws only if the validator itself
 * cannot run.
 */
export async function validateSamlSchema(xml: string): Promise<SchemaResult> {
  const { preload } = await loadSchemas();
  let result: Awaited<ReturnType<typeof validateXML>>;
  try {
    result = await validateXML({
      xml: [{ fileName: 'message.xml', contents: xml }],
      extension: 'schema',
      schema: [{ fileName: 'bundle.xsd', contents: BUNDLE }],
      preload,
    });
  } catch (err) {
    // xmllint exits with a code other than "invalid" when it cannot even parse the document (a
    // character XML forbids, trailing content): that is an invalid document, not a broken validator.
    if (err instanceof Error && typeof (err as { code?: unknown }).code === 'number') {
      const line = err.message.split('\n').find((l) => l.trim().length > 0) ?? 'not well-formed';
      return { valid: false, error: line.replace(/^message\.xml:\d+:\s*/, '') };
    }
    throw err;
  }
  if (result.valid) return { valid: true };
  const first = result.errors[0];
  return { valid: false, error: first ? first.message : result.rawOutput.split('\n')[0] ?? 'invalid' };
}

let registered = false;

/** Gives samlify the same validator, once per process. */
export function registerSamlifyValidator(): void {
  if (registered) return;
  samlify.setSchemaValidator({
    validate: async (xml: string) => {
      const result = await validateSamlSchema(xml);
      if (!result.valid) throw new Error('ERR_SCHEMA_INVALID');
      return true;
    },
  });
  registered = true;
}
