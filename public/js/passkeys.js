// Passkeys: the browser's side of the WebAuthn ceremonies (the sign-in page, the second sign-in step and the passkeys page).
// Without script the passkey controls stay hidden and a sentence (which this script hides) says they need it.
(function () {
  'use strict';

  var webauthn = window.SimpleWebAuthnBrowser;
  var supported = Boolean(webauthn && webauthn.browserSupportsWebAuthn());

  function csrfToken() {
    var field = document.querySelector('input[name="_csrf"]');
    return field ? field.value : '';
  }

  // POSTs JSON with the page's CSRF token; resolves with { status, body } (body {} when the answer is not JSON).
  function post(url, data) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrfToken() },
      body: JSON.stringify(data),
    }).then(function (res) {
      return res.json().then(
        function (body) {
          return { status: res.status, body: body };
        },
        function () {
          return { status: res.status, body: {} };
        },
      );
    });
  }

  function showError(container, message) {
    var box = container.querySelector('[data-passkey-error]');
    if (!box) return;
    box.textContent = message || '';
    box.hidden = !message;
  }

  function showFieldError(form, name, message) {
    var input = form.querySelector('[name="' + name + '"]');
    var box = document.getElementById('f-' + name + '-error');
    if (!input || !box) return false;
    box.textContent = message || '';
    if (message) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    } else input.removeAttribute('aria-invalid');
    return true;
  }

  // The server's answer: a redirect to follow, or messages by field ("_form" for the whole form).
  function handle(container, result) {
    if (result.body && result.body.redirect) {
      window.location.assign(result.body.redirect);
      return;
    }
    var errors = (result.body && result.body.errors) || {};
    var shown = false;
    Object.keys(errors).forEach(function (field) {
      if (field !== '_form' && container.tagName === 'FORM' && showFieldError(container, field, errors[field])) shown = true;
    });
    if (errors._form) showError(container, errors._form);
    else if (!shown) showError(container, 'Something went wrong (' + result.status + '). Reload the page and try again.');
  }

  // The browser's own refusal (the person cancelled, the time ran out, no passkey for this site).
  function ceremonyFailed(container, err) {
    var cancelled = err && (err.name === 'NotAllowedError' || err.name === 'AbortError');
    showError(
      container,
      cancelled
        ? 'The passkey request was cancelled or timed out. Try again when you are ready.'
        : 'Your browser could not use a passkey: ' + (err && err.message ? err.message : 'unknown error') + '.',
    );
  }

  function busy(element, on) {
    var button = element.tagName === 'BUTTON' ? element : element.querySelector('button[type="submit"]');
    if (button) button.disabled = on;
  }

  document.addEventListener('submit', function (event) {
    var form = event.target.closest('[data-passkey-register]');
    if (!form || !supported) return;
    event.preventDefault();
    var name = form.querySelector('[name="name"]').value;
    // Sudo mode: the password rides along when the form asks for it (an old check; the server says so too).
    var reauth = form.querySelector('[data-reauth-field]');
    var password = reauth && !reauth.hidden ? reauth.querySelector('input').value : '';
    var options = password ? { name: name, reauth_password: password } : { name: name };
    showError(form, '');
    showFieldError(form, 'name', '');
    if (reauth) showFieldError(form, 'reauth_password', '');
    busy(form, true);
    post(form.getAttribute('action') + '/options', options)
      .then(function (result) {
        if (reauth) reauth.querySelector('input').value = '';
        if (result.body && result.body.error === 'reauthentication_required' && reauth) reauth.hidden = false;
        if (result.status !== 200) return handle(form, result);
        if (reauth) reauth.hidden = true;
        return webauthn.startRegistration({ optionsJSON: result.body }).then(
          function (response) {
            return post(form.getAttribute('action'), { name: name, response: response }).then(function (answer) {
              handle(form, answer);
            });
          },
          function (err) {
            ceremonyFailed(form, err);
          },
        );
      })
      .catch(function () {
        showError(form, 'The console could not be reached. Check your connection and try again.');
      })
      .then(function () {
        busy(form, false);
      });
  });

  document.addEventListener('click', function (event) {
    var button = event.target.closest('[data-passkey-sign-in]');
    if (!button || !supported) return;
    var container = button.parentElement;
    showError(container, '');
    busy(button, true);
    // The sign-in page's button (a passkey instead of the password) and the second step's (after the password) name their own URLs.
    post(button.getAttribute('data-options-url'), {})
      .then(function (result) {
        if (result.status !== 200) return handle(container, result);
        return webauthn.startAuthentication({ optionsJSON: result.body }).then(
          function (response) {
            return post(button.getAttribute('data-answer-url'), { response: response, next: button.getAttribute('data-next') || '' }).then(function (answer) {
              handle(container, answer);
            });
          },
          function (err) {
            ceremonyFailed(container, err);
          },
        );
      })
      .catch(function () {
        showError(container, 'The console could not be reached. Check your connection and try again.');
      })
      .then(function () {
        busy(button, false);
      });
  });

  function reveal() {
    document.querySelectorAll('[data-passkey-only]').forEach(function (element) {
      element.hidden = !supported;
    });
    document.querySelectorAll('[data-passkey-unsupported]').forEach(function (element) {
      element.hidden = supported;
    });
    document.querySelectorAll('[data-passkey-no-script]').forEach(function (element) {
      element.hidden = true;
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', reveal);
  else reveal();
})();
