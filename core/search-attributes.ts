// Typed search attributes the sync workflow upserts, so the Web UI and
// `temporal workflow list --query 'SyncStatus="ACTIVE"'` filter syncs. Registered by `npm run dev`
// and the test servers (`--search-attribute`), and by operators on a production cluster.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA_SYNC_STATUS = defineSearchAttributeKey('SyncStatus', SearchAttributeType.KEYWORD);
export const SA_BUCKET_ID = defineSearchAttributeKey('BucketId', SearchAttributeType.KEYWORD);
export const SA_NAMESPACE_ID = defineSearchAttributeKey('SyncNamespaceId', SearchAttributeType.KEYWORD);

/** `--search-attribute` arguments for `temporal server start-dev`. */
export const SEARCH_ATTRIBUTE_ARGS: string[] = [SA_SYNC_STATUS, SA_BUCKET_ID, SA_NAMESPACE_ID].flatMap(
  (k) => ['--search-attribute', `${k.name}=Keyword`],
);
