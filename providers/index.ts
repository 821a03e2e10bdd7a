// Provider registry: provider_type -> config schema + factory. Credentials are passed in by the
// caller (activities load them by connection id); nothing here reads the store.
import type { z } from 'zod';
import type { ProviderType } from '../core/request-schemas';
import { AzureBlobProvider, azureConfigSchema, type AzureConfig } from './azure';
import { GcsProvider, gcsConfigSchema, type GcsConfig } from './gcs';
import { GoogleDriveProvider, googleDriveConfigSchema, type GoogleDriveConfig } from './google-drive';
import { LocalProvider, localConfigSchema, type LocalConfig } from './local';
import {
  createS3Provider,
  createTigrisProvider,
  s3ConfigSchema,
  tigrisConfigSchema,
  type S3Config,
  type TigrisConfig,
} from './s3';
import { SnowflakeProvider, snowflakeConfigSchema, type SnowflakeConfig } from './snowflake';
import { SharePointProvider, sharepointConfigSchema, type SharePointConfig } from './sharepoint';
import { ProviderError, type StorageProvider } from './types';
import { activeTracer } from '../lib/tracing';
import { tracedProvider } from './tracing';

export * from './types';

interface ProviderDefinition<C> {
  configSchema: z.ZodType<C>;
  create(config: C, credentials: Record<string, unknown> | null): StorageProvider;
}

const define = <C>(
  configSchema: z.ZodType<C>,
  create: (config: C, credentials: Record<string, unknown> | null) => StorageProvider,
): ProviderDefinition<C> => ({ configSchema, create });

/** Every provider_type of the contract: the compiler refuses a missing one. */
const registry: Record<ProviderType, ProviderDefinition<unknown>> = {
  local: define(localConfigSchema, (c: LocalConfig) => new LocalProvider(c)),
  s3: define(s3ConfigSchema, (c: S3Config, creds) => createS3Provider(c, creds)),
  tigris: define(tigrisConfigSchema, (c: TigrisConfig, creds) => createTigrisProvider(c, creds)),
  gcs: define(gcsConfigSchema, (c: GcsConfig, creds) => new GcsProvider(c, creds)),
  azure_blob: define(azureConfigSchema, (c: AzureConfig, creds) => new AzureBlobProvider(c, creds)),
  snowflake: define(snowflakeConfigSchema, (c: SnowflakeConfig, creds) => new SnowflakeProvider(c, creds)),
  sharepoint: define(
    sharepointConfigSchema,
    (c: SharePointConfig, creds) => new SharePointProvider(c, creds),
  ),
  google_drive: define(
    googleDriveConfigSchema,
    (c: GoogleDriveConfig, creds) => new GoogleDriveProvider(c, creds),
  ),
};

export function providerDefinition(type: ProviderType): ProviderDefinition<unknown> {
  const def = registry[type] as ProviderDefinition<unknown> | undefined;
  if (!def) throw new ProviderError(`unknown provider_type ${type}`, 'invalid', false);
  return def;
}

export function createProvider(
  type: ProviderType,
  config: unknown,
  credentials: Record<string, unknown> | null,
): StorageProvider {
  const def = providerDefinition(type);
  const provider = def.create(def.configSchema.parse(config), credentials);
  // Spans around its calls while tracing is on (providers/tracing.ts); else the provider itself.
  const tracer = activeTracer();
  return tracer ? tracedProvider(type, provider, tracer) : provider;
}
