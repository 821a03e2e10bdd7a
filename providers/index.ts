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

export * from './types';

interface ProviderDefinition<C> {
  configSchema: z.ZodType<C>;
  create(config: C, credentials: Record<string, unknown> | null): StorageProvider;
}

const local: ProviderDefinition<LocalConfig> = {
  configSchema: localConfigSchema,
  create: (config) => new LocalProvider(config),
};

const gcs: ProviderDefinition<GcsConfig> = {
  configSchema: gcsConfigSchema,
  create: (config, credentials) => new GcsProvider(config, credentials),
};

const azure_blob: ProviderDefinition<AzureConfig> = {
  configSchema: azureConfigSchema,
  create: (config, credentials) => new AzureBlobProvider(config, credentials),
};

const s3: ProviderDefinition<S3Config> = {
  configSchema: s3ConfigSchema,
  create: (config, credentials) => createS3Provider(config, credentials),
};

const tigris: ProviderDefinition<TigrisConfig> = {
  configSchema: tigrisConfigSchema,
  create: (config, credentials) => createTigrisProvider(config, credentials),
};

const snowflake: ProviderDefinition<SnowflakeConfig> = {
  configSchema: snowflakeConfigSchema,
  create: (config, credentials) => new SnowflakeProvider(config, credentials),
};

const sharepoint: ProviderDefinition<SharePointConfig> = {
  configSchema: sharepointConfigSchema,
  create: (config, credentials) => new SharePointProvider(config, credentials),
};

const google_drive: ProviderDefinition<GoogleDriveConfig> = {
  configSchema: googleDriveConfigSchema,
  create: (config, credentials) => new GoogleDriveProvider(config, credentials),
};

/** Every provider_type of the contract: the compiler refuses a missing one. */
const registry: Record<ProviderType, ProviderDefinition<unknown>> = {
  local,
  s3,
  tigris,
  gcs,
  azure_blob,
  snowflake,
  sharepoint,
  google_drive,
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
  return def.create(def.configSchema.parse(config), credentials);
}
