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
      button.setAttribute('data-label', original);
      button.textContent = text;
      var live = document.getElementById('copy-status');
      if (live) live.textContent = text === 'Copied' ? 'Copied to the clipboard.' : text;
      setTimeout(function () { button.textContent = original; }, 2000);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(value).then(function () { done('Copied'); }, function () { field.select(); done('Press Ctrl+C to copy'); });
    } else {
      field.select();
      done('Press Ctrl+C to copy');
    }
  });

  // Read-only secret fields select themselves on focus, so copying is one keystroke.
  document.addEventListener('focusin', function (event) {
    if (event.target.matches && event.target.matches('[data-select-on-focus]')) event.target.select();
  });

  // Copy buttons are useless without script, so they are hidden until script runs.
  document.documentElement.classList.add('js');
})();
