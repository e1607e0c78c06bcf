import { performance } from 'node:perf_hooks';

/** Milliseconds since `start` (a `performance.now()` reading), to the microsecond. */
export const elapsedMs = (start: number): number => Math.round((performance.now() - start) * 1000) / 1000;
