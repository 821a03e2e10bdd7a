import pino, { type Logger } from 'pino';

/** One structured logger for every process; secrets are redacted wherever they might appear. */
export function createLogger(level: string, name: string): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        '*.credentials',
        '*.provider_config.credentials',
        '*.secret_access_key',
        '*.private_key',
        '*.client_secret',
        '*.password',
        '*.authorization',
        'req.headers.authorization',
      ],
      censor: '[redacted]',
    },
  });
}
