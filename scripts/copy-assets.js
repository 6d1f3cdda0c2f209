// Copies the htmx build and the WebAuthn browser helper from node_modules into public/vendor, so they are served from our own origin.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const target = path.join(root, 'public', 'vendor');
fs.mkdirSync(target, { recursive: true });
fs.copyFileSync(path.join(root, 'node_modules', 'htmx.org', 'dist', 'htmx.min.js'), path.join(target, 'htmx.min.js'));
// The passkeys page script's WebAuthn helper (@simplewebauthn/browser), likewise.
fs.copyFileSync(
  path.join(root, 'node_modules', '@simplewebauthn', 'browser', 'dist', 'bundle', 'index.umd.min.js'),
  path.join(target, 'simplewebauthn-browser.umd.min.js'),
);
