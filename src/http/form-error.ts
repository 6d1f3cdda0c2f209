import { FieldError } from './errors';
import type { FieldErrors } from './validate';

/**
 * The one place a service's FieldError (a name already taken, a scope the company may not grant)
 * becomes the form again: runs `attempt` (the service call and its success answer); when that throws
 * a FieldError, `reRender` shows the form with the message by its field, with the error's status
 * (422). Any other error goes on to the error handler. An async `attempt` (a service on Kysely,
 * decision 0011) gives a promise to await; a synchronous one stays synchronous.
 */
export function reRenderOnFieldError(attempt: () => Promise<void>, reRender: (errors: FieldErrors, status: number) => void | Promise<void>): Promise<void>;
export function reRenderOnFieldError(attempt: () => void, reRender: (errors: FieldErrors, status: number) => void): void;
export function reRenderOnFieldError(
  attempt: () => void | Promise<void>,
  reRender: (errors: FieldErrors, status: number) => void | Promise<void>,
): void | Promise<void> {
  const onError = (err: unknown) => {
    if (!(err instanceof FieldError)) throw err;
    return reRender({ [err.field]: err.message }, err.status);
  };
  try {
    const attempted = attempt();
    return attempted instanceof Promise ? attempted.catch(onError) : undefined;
  } catch (err) {
    return onError(err);
  }
}
