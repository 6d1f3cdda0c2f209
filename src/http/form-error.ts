import { FieldError } from './errors';
import type { FieldErrors } from './validate';

/**
 * The one place a service's FieldError (a name already taken, a scope the company may not grant)
 * becomes the form again: runs `attempt` (the service call and its success answer); when that throws
 * a FieldError, `reRender` shows the form with the message by its field, with the error's status
 * (422). Any other error goes on to the error handler.
 */
export async function reRenderOnFieldError(
  attempt: () => void | Promise<void>,
  reRender: (errors: FieldErrors, status: number) => void | Promise<void>,
): Promise<void> {
  try {
    await attempt();
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    await reRender({ [err.field]: err.message }, err.status);
  }
}
