/** Durations for progress lines: "42s", "3m05s", "2h07m"; "?" when unknown. */
export function formatDuration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return "?";
  s = Math.max(0, Math.round(s));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  return h > 0
    ? `${h}h${String(m).padStart(2, "0")}m`
    : m > 0
    ? `${m}m${String(sec).padStart(2, "0")}s`
    : `${sec}s`;
}
