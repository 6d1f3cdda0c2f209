import { FieldError } from './errors';
import type { FieldErrors } from './validate';

/**
 * The one place a service's FieldError (a name already taken, a scope the company may not grant)
 * becomes the form again: runs `attempt` (the service call and its success answer); when that throws
 * a FieldError, `reRender` shows the form with the message by its field, with the error's status
 * (422). Any other error goes on to the error handler.
 */
export function reRenderOnFieldError(attempt: () => void, reRender: (errors: FieldErrors, status: number) => void): void {
  try {
    attempt();
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    reRender({ [err.field]: err.message }, err.status);
  }
}

/**
 * reRenderOnFieldError for a service that is async (issue 12: the data layer moves to Kysely). When
 * every caller's service is async, this one stays and the synchronous one goes.
 */
export async function reRenderOnFieldErrorAsync(
  attempt: () => Promise<void>,
  reRender: (errors: FieldErrors, status: number) => void | Promise<void>,
): Promise<void> {
  try {
    await attempt();
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    await reRender({ [err.field]: err.message }, err.status);
  }
}
