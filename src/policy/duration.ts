/**
 * ISO 8601 durations as access requests and `@requestable` use them (`PT4H`, `P7D`, `P1DT12H`,
 * `P2W`): weeks, days, hours, minutes, whole seconds. Years and months are refused: their length
 * in seconds depends on the calendar, and an approval's end must not. Pure.
 */
const DURATION = /^P(?:(\d{1,4})W|(?:(\d{1,5})D)?(?:T(?:(\d{1,6})H)?(?:(\d{1,7})M)?(?:(\d{1,9})S)?)?)$/;

/** Seconds, or undefined when `text` is not such a duration or is zero. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T')) return undefined;
  const [, w, d, h, min, s] = m.map((v) => (v === undefined ? 0 : Number(v)));
  const seconds = w! * 604_800 + d! * 86_400 + h! * 3_600 + min! * 60 + s!;
  return seconds > 0 ? seconds : undefined;
}

/** The shortest ISO 8601 text for whole seconds (for display and the wire). */
export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86_400);
  const rest = seconds % 86_400;
  const h = Math.floor(rest / 3_600);
  const m = Math.floor((rest % 3_600) / 60);
  const s = rest % 60;
  const time = `${h ? `${h}H` : ''}${m ? `${m}M` : ''}${s ? `${s}S` : ''}`;
  return `P${d ? `${d}D` : ''}${time ? `T${time}` : ''}` === 'P' ? 'PT0S' : `P${d ? `${d}D` : ''}${time ? `T${time}` : ''}`;
}
