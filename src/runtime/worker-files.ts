/**
 * The configuration the Worker bundle carries: broker.config.yaml, mappings/*.yaml and
 * policies/*.cedar(schema), imported as Text modules (wrangler.toml `[[rules]] type = "Text"`).
 * A Worker cannot list a directory, so every file is named here; adding a mapping or policy
 * file means adding a line. test/workers/entry.test.ts fails when this list and the
 * directories disagree. `mappings_dir` / `policies_dir` in the config do not apply here.
 */
import type { ConfigFiles } from '../config/load.js';
import brokerConfig from '../../broker.config.yaml';
import analyticsUsers from '../../mappings/analytics-users.yaml';
import crmUsers from '../../mappings/crm-users.yaml';
import todoUsers from '../../mappings/todo-users.yaml';
import demoPolicies from '../../policies/demo.cedar';
import xaaSchema from '../../policies/xaa.cedarschema';

export const bundledConfigFiles: ConfigFiles = {
  broker: { path: 'broker.config.yaml', text: brokerConfig },
  mappings: [
    { path: 'mappings/analytics-users.yaml', text: analyticsUsers },
    { path: 'mappings/crm-users.yaml', text: crmUsers },
    { path: 'mappings/todo-users.yaml', text: todoUsers },
  ],
  policies: [{ path: 'policies/demo.cedar', text: demoPolicies }],
  schema: { path: 'policies/xaa.cedarschema', text: xaaSchema },
};
