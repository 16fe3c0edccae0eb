import { expect } from 'vitest';
import { AppError } from '../../src/shared/http-errors.js';

/** Awaits `p` and expects it to reject with the AppError of that status (and message). */
export async function expectAppRejection(p: Promise<unknown>, status: number, message?: RegExp): Promise<void> {
  const caught = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(caught).toBeInstanceOf(AppError);
  expect((caught as AppError).status).toBe(status);
  if (message) expect((caught as AppError).message).toMatch(message);
}
