// Imported by providers/snowflake.ts before snowflake-sdk. On load the driver probes cloud metadata
// services (169.254.169.254, metadata.google.internal) to tag its login telemetry with the platform it
// runs on; a sync worker has no use for that and must not send traffic to addresses it was not given.
// The driver reads this variable when it is first loaded, so it has to be set before the import.
process.env.SNOWFLAKE_DISABLE_PLATFORM_DETECTION ??= 'true';

export {};
