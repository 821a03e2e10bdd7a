// Admin CLI: organizations, namespaces and API keys.
//   npm run admin -- create-key --org acme --namespace production [--name ci]
// Prints the new key once; only its SHA-256 hash is stored.
import { parseArgs } from 'node:util';
import { createOrgNamespaceKey } from '../api/auth';
import { loadEnvOrExit } from '../config/env';
import { Store } from '../store';

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const { values } = parseArgs({
    args: rest,
    options: {
      org: { type: 'string' },
      namespace: { type: 'string' },
      name: { type: 'string', default: 'admin' },
    },
  });
  if (command !== 'create-key' || !values.org || !values.namespace) {
    process.stderr.write(
      'usage: npm run admin -- create-key --org <name> --namespace <name> [--name <key name>]\n',
    );
    process.exit(2);
  }
  const env = loadEnvOrExit();
  const store = await Store.connect(env.MONGODB_URI, env.MONGODB_DB);
  try {
    const r = await createOrgNamespaceKey(store, {
      orgName: values.org,
      namespaceName: values.namespace,
      keyName: values.name,
    });
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  } finally {
    await store.close();
  }
}

main().catch((err) => {
  process.stderr.write(`admin failed: ${(err as Error).message}\n`);
  process.exit(1);
});
