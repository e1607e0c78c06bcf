/**
 * UUID per RFC 4122 / RFC 9562: versions 1-8 with the RFC variant, plus the nil and max
 * UUIDs. Case-insensitive on input; callers normalise to lower case.
 */
const UUID_PATTERN =
  /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}|0{8}-0{4}-0{4}-0{4}-0{12}|f{8}-f{4}-f{4}-f{4}-f{12})$/i;

/**
 * Full date-time only (no bare dates, no numbers): `YYYY-MM-DDTHH:mm:ss[.fraction](Z|±HH:mm)`.
 * An explicit zone is required so a parsed value never depends on the server's time zone.
 */
const ISO_DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function isUuid(text: string): boolean {
  return text.length === 36 && UUID_PATTERN.test(text);
}

function daysInMonth(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1];
}

/** A `Date` for a strict ISO-8601 date-time string, or null (V8 would roll `02-31` into March). */
export function parseIsoDateTime(text: string): Date | null {
  const match = ISO_DATE_TIME.exec(text);
  if (!match) return null;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return null;
  const epochMs = Date.parse(text);
  return Number.isNaN(epochMs) ? null : new Date(epochMs);
}
