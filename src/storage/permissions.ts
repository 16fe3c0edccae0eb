import { chmodSync, mkdirSync, statSync } from 'node:fs';

/** The data dir holds the key and token hashes and the link secret (state.db): nobody but its owner reads it. */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/**
 * Creates the data dir owner-only, and tightens it and the given database files (with SQLite's -wal and -shm
 * beside them) where an earlier version, a restored backup or a hand-made directory left them readable by others:
 * each change is reported through `warn`, naming the path. What cannot be changed (another owner) is reported too.
 */
export function secureDataDir(dir: string, files: readonly string[], warn: (message: string) => void): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  tighten(dir, DIR_MODE, warn);
  for (const file of files) for (const path of [file, `${file}-wal`, `${file}-shm`]) tighten(path, FILE_MODE, warn);
}

function tighten(path: string, allowed: number, warn: (message: string) => void): void {
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return;
  const mode = st.mode & 0o777;
  if ((mode & ~allowed) === 0) return;
  const want = mode & allowed;
  const octal = (m: number) => m.toString(8);
  try {
    chmodSync(path, want);
    warn(`${path} was mode ${octal(mode)}; changed to ${octal(want)} (owner-only: the data dir holds secrets)`);
  } catch (err) {
    warn(`${path} is mode ${octal(mode)}, readable by others, and cannot be changed (${(err as NodeJS.ErrnoException).code ?? String(err)}): make it ${octal(want)}`);
  }
}
