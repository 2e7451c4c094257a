/** "15M", "1.3B", "870M"-style labels for parameter counts. */
export function formatCount(n: number): string {
  if (n >= 1e9) return `${+(n / 1e9).toPrecision(2)}B`;
  if (n >= 1e6) return `${+(n / 1e6).toPrecision(n >= 1e8 ? 3 : 2)}M`;
  if (n >= 1e3) return `${+(n / 1e3).toPrecision(2)}K`;
  return String(n);
}
