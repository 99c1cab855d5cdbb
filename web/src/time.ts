// Timestamps as the API writes them (ISO 8601 dates and date-times, with or without a zone)
// to seconds since the epoch for the charts; a time without a zone is read as UTC, as the
// engine reads it.

export function toEpochSeconds(text: string): number | null {
  let value = text.trim();
  if (/^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}/.test(value)) {
    value = value.replace(" ", "T");
    if (!/(Z|[+-]\d{2}:?\d{2})$/i.test(value)) value += "Z";
  } else if (/^\d{4}-\d{2}$/.test(value)) {
    value += "-01";
  }
  const millis = Date.parse(value);
  return Number.isNaN(millis) ? null : millis / 1000;
}

/** Seconds for every timestamp, or null when any does not read as a time. */
export function axisOf(timestamps: string[]): number[] | null {
  const seconds: number[] = [];
  for (const text of timestamps) {
    const value = toEpochSeconds(text);
    if (value === null) return null;
    seconds.push(value);
  }
  return seconds;
}

/** "P1D" in words, for people. */
export function describeFrequency(iso: string | null | undefined): string {
  if (!iso) return "irregular";
  const words: Record<string, string> = {
    PT1M: "every minute",
    PT5M: "every 5 minutes",
    PT15M: "every 15 minutes",
    PT30M: "every half hour",
    PT1H: "hourly",
    P1D: "daily",
    P7D: "weekly",
    P1W: "weekly",
    P1M: "monthly",
    P3M: "quarterly",
    P1Y: "yearly",
  };
  return words[iso] ? `${words[iso]} (${iso})` : iso;
}
