// Copies the htmx build from node_modules into public/vendor so it is served from our own origin.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const target = path.join(root, 'public', 'vendor');
fs.mkdirSync(target, { recursive: true });
fs.copyFileSync(path.join(root, 'node_modules', 'htmx.org', 'dist', 'htmx.min.js'), path.join(target, 'htmx.min.js'));
