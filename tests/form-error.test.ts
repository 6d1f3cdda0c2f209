import { FieldError, HttpError } from '../src/http/errors';
import { reRenderOnFieldError } from '../src/http/form-error';
import type { FieldErrors } from '../src/http/validate';

/** The one place a service's FieldError becomes the form again (used by every form route that can get one). */
describe('reRenderOnFieldError', () => {
  const calls = () => {
    const reRenders: [FieldErrors, number][] = [];
    return { reRenders, reRender: (errors: FieldErrors, status: number) => void reRenders.push([errors, status]) };
  };

  it('runs the attempt and leaves the form alone when it succeeds', async () => {
    const { reRenders, reRender } = calls();
    let answered = false;
    await reRenderOnFieldError(() => {
      answered = true;
    }, reRender);
    expect(answered).toBe(true);
    expect(reRenders).toEqual([]);
  });

  it('re-renders the form with the message by its field, as 422, also when the service is async', async () => {
    const { reRenders, reRender } = calls();
    await reRenderOnFieldError(() => {
      throw new FieldError('name', 'A company with this name already exists.');
    }, reRender);
    await reRenderOnFieldError(() => Promise.reject(new FieldError('email', 'This address already has an account.')), reRender);
    expect(reRenders).toEqual([
      [{ name: 'A company with this name already exists.' }, 422],
      [{ email: 'This address already has an account.' }, 422],
    ]);
  });

  it('lets any other error through to the error handler, without re-rendering', async () => {
    const { reRenders, reRender } = calls();
    const conflict = new HttpError(409, 'conflict', 'Already revoked.');
    await expect(
      reRenderOnFieldError(() => {
        throw conflict;
      }, reRender),
    ).rejects.toThrow(conflict);
    await expect(reRenderOnFieldError(() => Promise.reject(new TypeError('boom')), reRender)).rejects.toThrow(TypeError);
    expect(reRenders).toEqual([]);
  });
});
