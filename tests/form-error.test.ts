import { FieldError, HttpError } from '../src/http/errors';
import { reRenderOnFieldError } from '../src/http/form-error';
import type { FieldErrors } from '../src/http/validate';

/** The one place a service's FieldError becomes the form again (used by every form route that can get one). */
describe('reRenderOnFieldError', () => {
  const calls = () => {
    const reRenders: [FieldErrors, number][] = [];
    return { reRenders, reRender: (errors: FieldErrors, status: number) => void reRenders.push([errors, status]) };
  };

  it('runs the attempt and leaves the form alone when it succeeds', () => {
    const { reRenders, reRender } = calls();
    let answered = false;
    reRenderOnFieldError(() => {
      answered = true;
    }, reRender);
    expect(answered).toBe(true);
    expect(reRenders).toEqual([]);
  });

  it('re-renders the form with the message by its field, as 422', () => {
    const { reRenders, reRender } = calls();
    reRenderOnFieldError(() => {
      throw new FieldError('name', 'A company with this name already exists.');
    }, reRender);
    expect(reRenders).toEqual([[{ name: 'A company with this name already exists.' }, 422]]);
  });

  it('lets any other error through to the error handler, without re-rendering', () => {
    const { reRenders, reRender } = calls();
    const conflict = new HttpError(409, 'conflict', 'Already revoked.');
    expect(() =>
      reRenderOnFieldError(() => {
        throw conflict;
      }, reRender),
    ).toThrow(conflict);
    expect(() =>
      reRenderOnFieldError(() => {
        throw new TypeError('boom');
      }, reRender),
    ).toThrow(TypeError);
    expect(reRenders).toEqual([]);
  });
});
