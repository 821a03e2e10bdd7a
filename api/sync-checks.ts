// The checks a sync create / PATCH makes of the fields Mixpeek declares: source_path (tested with
// the provider), sync_concurrency (the deployment's cap) and batch_collection_ids (resolved).
import { createProvider } from '../providers';
import type { ConnectionDoc, Store, Tenant } from '../store';
import type { SecretBox } from '../store/secrets';
import { ApiError } from './errors';

const SOURCE_TEST_TIMEOUT_MS = 20_000;

const issue = (loc: (string | number)[], msg: string) =>
  new ApiError(422, `validation failed: ${loc.join('.')}: ${msg}`, 'ValidationError', {
    issues: [{ loc, msg, type: 'value_error' }],
  });

/** provider.test(source_path) of the sync's connection: 422 naming source_path when it fails. */
export async function checkSourcePath(
  secrets: SecretBox,
  conn: ConnectionDoc,
  sourcePath: string,
): Promise<void> {
  const credentials = conn.credentials_sealed
    ? secrets.open<Record<string, unknown>>(conn.credentials_sealed)
    : null;
  let timer: NodeJS.Timeout | undefined;
  let result: { success: boolean; message: string };
  try {
    const provider = createProvider(conn.provider_type, conn.provider_config, credentials);
    result = await Promise.race([
      provider.test(sourcePath),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the provider gave no answer within ${SOURCE_TEST_TIMEOUT_MS / 1000} s`)),
          SOURCE_TEST_TIMEOUT_MS,
        );
      }),
    ]);
  } catch (err) {
    result = { success: false, message: (err as Error)?.message ?? String(err) };
  } finally {
    clearTimeout(timer);
  }
  if (!result.success)
    throw issue(['body', 'source_path'], `path must exist in the storage provider: ${result.message}`);
}

/**
 * Checks Mixpeek's sync fields against this deployment and resolves batch_collection_ids (ids or
 * names) to collection ids of the bucket's namespace. Returns the resolved ids (or null).
 */
export async function checkSyncFields(
  store: Store,
  maxConcurrency: number,
  t: Tenant,
  body: { sync_concurrency?: number | null; batch_collection_ids?: string[] | null },
): Promise<string[] | null | undefined> {
  if (body.sync_concurrency != null && body.sync_concurrency > maxConcurrency)
    throw issue(
      ['body', 'sync_concurrency'],
      `at most ${maxConcurrency} on this deployment (SYNC_FILE_CONCURRENCY_MAX)`,
    );
  const given = body.batch_collection_ids;
  if (given == null) return given;
  const found = await store.collections
    .find(
      {
        internal_id: t.internal_id,
        namespace_id: t.namespace_id,
        $or: [{ collection_id: { $in: given } }, { collection_name: { $in: given } }],
      },
      { projection: { collection_id: 1, collection_name: 1 } },
    )
    .toArray();
  const ids: string[] = [];
  for (const [i, name] of given.entries()) {
    const hit = found.find((c) => c.collection_id === name) ?? found.find((c) => c.collection_name === name);
    if (!hit) throw issue(['body', 'batch_collection_ids', i], `no collection ${name} in this namespace`);
    if (!ids.includes(hit.collection_id)) ids.push(hit.collection_id);
  }
  return ids;
}
