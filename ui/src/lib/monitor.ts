// Readings of the cluster's members for the monitor page.

/** Seconds since a heartbeat, as `4 s`, `3 m`, `2 h`. */
export function age(at: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} m`;
  return `${Math.round(s / 3600)} h`;
}

/** Whether a heartbeat is late (older than `staleAfterS`, 30 s by default). */
export function stale(at: string, now: number, staleAfterS = 30): boolean {
  return now - Date.parse(at) > staleAfterS * 1000;
}

/** `1.2 / 7.8 GiB (15 %)`. */
export function memory(usedMb: number, totalMb: number): string {
  if (!totalMb) return "—";
  const gib = (mb: number) => (mb / 1024).toFixed(1);
  return `${gib(usedMb)} / ${gib(totalMb)} GiB (${Math.round((usedMb / totalMb) * 100)} %)`;
}

/** The share of slots in use, 0 to 1 (a group of no slots is full). */
export function used(usedSlots: number, slots: number): number {
  return slots <= 0 ? 1 : Math.min(1, usedSlots / slots);
}
