import pino from 'pino';

/** DI token of the stream request and event logs go to. Tests override it to capture lines. */
export const LOG_DESTINATION = Symbol('LOG_DESTINATION');

/** stdout as JSON lines, or pino-pretty (a dev dependency) for LOG_FORMAT=pretty. */
export function defaultLogDestination(format: 'json' | 'pretty'): pino.DestinationStream {
  if (format === 'pretty') {
    // Loaded lazily: pino-pretty is a dev dependency and only needed for local reading.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pretty = require('pino-pretty') as (opts: object) => pino.DestinationStream;
    return pretty({ colorize: true, translateTime: 'SYS:HH:MM:ss.l' });
  }
  return pino.destination({ dest: 1, sync: false, minLength: 0 });
}
