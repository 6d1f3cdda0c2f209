// Small enhancements; every page works without them.
(function () {
  'use strict';

  // Copy buttons: <button data-copy="#field-id">Copy</button>. Uses the Clipboard API, says "Copied".
  document.addEventListener('click', function (event) {
    var button = event.target.closest('[data-copy]');
    if (!button) return;
    var field = document.querySelector(button.getAttribute('data-copy'));
    if (!field) return;
    var value = field.value !== undefined ? field.value : field.textContent;
    var done = function (text) {
      var original = button.getAttribute('data-label') || button.textContent;
      // The accessible name ("Copy API key") must keep containing the visible text while it reads "Copied".
      var name = button.getAttribute('data-name') || button.getAttribute('aria-label') || original;
      button.setAttribute('data-label', original);
      button.setAttribute('data-name', name);
      button.textContent = text;
      button.setAttribute('aria-label', text === 'Copied' ? name.replace(original, text) : text);
      var live = document.getElementById('copy-status');
      if (live) live.textContent = text === 'Copied' ? 'Copied to the clipboard.' : text;
      setTimeout(function () {
        button.textContent = original;
        button.setAttribute('aria-label', name);
      }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(
        function () {
          done('Copied');
        },
        function () {
          field.select();
          done('Press Ctrl+C to copy');
        },
      );
    } else {
      field.select();
      done('Press Ctrl+C to copy');
    }
  });

  // Read-only secret fields select themselves on focus, so copying is one keystroke.
  document.addEventListener('focusin', function (event) {
    if (event.target.matches && event.target.matches('[data-select-on-focus]')) event.target.select();
  });

  // Swapped-in content says where focus goes: its [autofocus] element (a new secret, the first field in error)
  // or, for a form sent back with errors (422), the first invalid field, so focus is not lost with the replaced
  // button and screen readers read the field's label and its error (aria-describedby). htmx itself focuses
  // [autofocus] only when the swap settles, 20 ms later: until then focus sat on the body, and a key pressed
  // meanwhile was undone by that late focus. So focus here, in the task that inserts the content, and drop the
  // attribute (it only matters on page load) so that the settle step leaves focus where the user has moved it.
  document.addEventListener('htmx:afterSwap', function (event) {
    var swapped = event.target;
    if (!swapped || !swapped.querySelector) return;
    var target = swapped.matches('[autofocus]') ? swapped : swapped.querySelector('[autofocus]');
    if (!target && event.detail && event.detail.xhr && event.detail.xhr.status === 422) target = document.querySelector('[aria-invalid="true"]');
    if (!target) return;
    target.removeAttribute('autofocus');
    if (document.activeElement !== target) target.focus();
  });

  // Nobody is signed in on this page (after sign-out, say): forget htmx's history snapshots, so pages
  // seen while signed in cannot be brought back from this tab's storage by the next person at it.
  // htmx 2 keeps them in sessionStorage, htmx 1 kept them in localStorage.
  if (document.body && document.body.hasAttribute('data-forget-history')) {
    ['sessionStorage', 'localStorage'].forEach(function (name) {
      try {
        window[name].removeItem('htmx-history-cache');
      } catch {
        // storage is disabled: nothing was kept
      }
    });
  }

  // Copy buttons are useless without script, so they are hidden until script runs.
  document.documentElement.classList.add('js');
})();
