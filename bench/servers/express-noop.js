// Reference: one Express 5 route that answers at once, i.e. the cost of Express itself.
'use strict';
const express = require('express');
const { listen } = require('./listen');

const app = express();
app.disable('x-powered-by');
app.get('/noop', (_req, res) => {
  res.json({ ok: true });
});
listen(app);
