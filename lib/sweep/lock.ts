/**
 * One lock file per run, created with O_EXCL (Deno.open createNew), holding the owner's pid, host
 * and process start time. A lock is stale when its owner is on this host and no longer alive (pid
 * gone, or reused by a process started at another time), or, for other hosts, when its mtime (the
 * owner's heartbeat) is older than `staleS`. Breaking a stale lock is serialised by a second O_EXCL
 * file so that two processes never both take over the same run.
 */

export interface LockInfo {
  pid: number;
  host: string;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); null off Linux. */
  startTime: string | null;
  created: string;
  nonce: string;
}

export interface LockOptions {
  /** Seconds without a heartbeat after which another host's lock counts as stale. */
  staleS?: number;
  /** Seconds between heartbeats (mtime updates) while the lock is held. */
  heartbeatS?: number;
}

function procStartTime(pid: number | "self"): string | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19] ?? null; // field 22 overall = index 19 after "pid (comm)"
  } catch {
    return null;
  }
}

function hasProc(): boolean {
  try {
    Deno.statSync("/proc/self/stat");
    return true;
  } catch {
    return false;
  }
}

function readInfo(path: string): LockInfo | null {
  try {
    const info = JSON.parse(Deno.readTextFileSync(path));
    return typeof info?.pid === "number" && typeof info?.host === "string" ? info : null;
  } catch {
    return null;
  }
}

function mtimeAgeS(path: string): number | null {
  try {
    const st = Deno.statSync(path);
    return st.mtime ? (Date.now() - st.mtime.getTime()) / 1000 : null;
  } catch {
    return null;
  }
}

/** Why a lock is stale, or null when its owner may still be working. */
export function staleReason(path: string, staleS: number): string | null {
  const info = readInfo(path);
  const age = mtimeAgeS(path);
  if (age === null) return null; // vanished: not ours to judge; the caller retries
  if (info === null) {
    // Created but not yet written (or the writer died in between): give the writer a moment.
    return age > 30 ? `unreadable lock, ${age.toFixed(0)} s old` : null;
  }
  if (info.host === Deno.hostname() && hasProc()) {
    const start = procStartTime(info.pid);
    if (start === null) return `pid ${info.pid} on ${info.host} is gone`;
    if (info.startTime !== null && start !== info.startTime) {
      return `pid ${info.pid} on ${info.host} now belongs to another process`;
    }
    return null;
  }
  return age > staleS
    ? `no heartbeat from pid ${info.pid} on ${info.host} for ${age.toFixed(0)} s (> ${staleS} s)`
    : null;
}

function tryCreate(path: string, info: LockInfo): boolean {
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { write: true, createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) return false;
    throw e;
  }
  try {
    file.writeSync(new TextEncoder().encode(JSON.stringify(info)));
  } finally {
    file.close();
  }
  return true;
}

/** A held lock: heartbeats until released. */
export class RunLock {
  private timer: ReturnType<typeof setInterval>;
  private released = false;
  private lastBeat = Date.now();

  constructor(readonly path: string, readonly info: LockInfo, private heartbeatS: number) {
    this.timer = setInterval(() => this.heartbeat(), heartbeatS * 1000);
    Deno.unrefTimer(this.timer);
  }

  /** Marks the lock as alive (updates its mtime); cheap to call often, throttled to 1/s. */
  heartbeat(): void {
    if (this.released || Date.now() - this.lastBeat < 1000) return;
    this.lastBeat = Date.now();
    try {
      const now = new Date();
      Deno.utimeSync(this.path, now, now);
    } catch {
      // The lock vanished (someone broke it as stale): nothing to refresh.
    }
  }

  /** Removes the lock file if it is still ours. */
  release(): void {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    if (readInfo(this.path)?.nonce === this.info.nonce) {
      try {
        Deno.removeSync(this.path);
      } catch {
        // already gone
      }
    }
  }
}

/**
 * Tries to take the lock at `path`. Returns the lock, or the current owner's info (or null when
 * unreadable) if a live process holds it. Stale locks are broken and taken over.
 */
export function tryLock(
  path: string,
  opts: LockOptions = {},
): { lock: RunLock } | { heldBy: LockInfo | null; reason?: string } {
  const staleS = opts.staleS ?? 600;
  const info: LockInfo = {
    pid: Deno.pid,
    host: Deno.hostname(),
    startTime: procStartTime("self"),
    created: new Date().toISOString(),
    nonce: crypto.randomUUID(),
  };
  const make = () => ({ lock: new RunLock(path, info, opts.heartbeatS ?? 30) });
  for (let attempt = 0; attempt < 3; attempt++) {
    if (tryCreate(path, info)) return make();
    const reason = staleReason(path, staleS);
    if (reason === null) {
      if (mtimeAgeS(path) === null) continue; // released meanwhile: try again
      return { heldBy: readInfo(path) };
    }
    // Stale: break it under a second exclusive file so only one process takes over.
    const breaker = `${path}.break`;
    const breakerAge = mtimeAgeS(breaker);
    if (breakerAge !== null && breakerAge > 60) {
      try {
        Deno.removeSync(breaker); // its owner died while breaking
      } catch { /* someone else removed it */ }
    }
    if (!tryCreate(breaker, info)) return { heldBy: readInfo(path), reason: "being broken" };
    try {
      // Re-check under the breaker: the lock may have been replaced by a live owner meanwhile.
      if (staleReason(path, staleS) !== null) {
        try {
          Deno.removeSync(path);
        } catch { /* gone */ }
      }
      if (tryCreate(path, info)) return make();
    } finally {
      try {
        Deno.removeSync(breaker);
      } catch { /* gone */ }
    }
  }
  return { heldBy: readInfo(path) };
}
