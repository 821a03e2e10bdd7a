// Provider registry: provider_type -> config schema + factory. Credentials are passed in by the
// caller (activities load them by connection id); nothing here reads the store.
import type { z } from 'zod';
import type { ProviderType } from '../core/schemas';
import { LocalProvider, localConfigSchema, type LocalConfig } from './local';
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

const registry: Partial<Record<ProviderType, ProviderDefinition<unknown>>> = {
  local,
};

export function providerDefinition(type: ProviderType): ProviderDefinition<unknown> {
  const def = registry[type];
  if (!def)
    throw new ProviderError(`provider_type ${type} is not available in this build yet`, 'invalid', false);
  return def;
}

export function isProviderAvailable(type: ProviderType): boolean {
  return registry[type] !== undefined;
}

export function createProvider(
  type: ProviderType,
  config: unknown,
  credentials: Record<string, unknown> | null,
): StorageProvider {
  const def = providerDefinition(type);
  return def.create(def.configSchema.parse(config), credentials);
}
