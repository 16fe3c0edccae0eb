import { expect } from 'vitest';
import { AppError } from '../../src/shared/http-errors.js';

/** Runs `fn` and expects it to throw the AppError of that status (and message). */
export function expectAppError(fn: () => unknown, status: number, message?: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AppError);
  expect((caught as AppError).status).toBe(status);
  if (message) expect((caught as AppError).message).toMatch(message);
}
