/** Status objects: the errors the API server answers with, in HTTP bodies and watch ERROR events. */
import type { Status } from './types.js';

export function status(code: number, reason: string, message: string, extra: Partial<Status> = {}): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code, ...extra };
}

/** Thrown by request handlers; answered as HTTP `body.code` with `body`. */
export class HttpError extends Error {
  constructor(readonly body: Status) {
    super(body.message);
  }
}

export const badRequest = (message: string) => new HttpError(status(400, 'BadRequest', message));

export const CONTINUE_EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

/** A resourceVersion query parameter as a number; HTTP 400 unless it is one. */
export function parseResourceVersion(param: string): number {
  if (!/^\d+$/.test(param)) throw badRequest(`invalid resource version "${param}"`);
  return Number(param);
}

/** 410 Expired: `rv` is older than the history kept (which starts after `minRV`). */
export const tooOld = (rv: number, minRV: number): Status => status(410, 'Expired', `too old resource version: ${rv} (${minRV})`);

/** 504: `rv` is newer than the `current` resourceVersion. */
export const tooLarge = (rv: number, current: number, extra: Partial<Status> = {}): Status =>
  status(504, 'Timeout', `Too large resource version: ${rv}, current: ${current}`, extra);
