// Every reference server listens the same way: on 127.0.0.1 at the port given as its first
// argument, and stops at SIGTERM. The runner knows it is ready when the port accepts connections.
'use strict';
const http = require('node:http');

function listen(handler) {
  const port = Number(process.argv[2]);
  if (!Number.isInteger(port) || port <= 0) {
    process.stderr.write('usage: node <server>.js PORT\n');
    process.exit(2);
  }
  const server = http.createServer(handler);
  server.keepAliveTimeout = 30_000;
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
  return { server, port };
}

module.exports = { listen };
