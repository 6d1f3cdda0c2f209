// A generator process takes its job as one JSON document on stdin (so that the bench credentials in
// its headers never show in `ps`) and answers with one JSON line on stdout.
'use strict';

function readJob() {
  return new Promise((resolve, reject) => {
    let text = '';
    process.stdin.setEncoding('utf8');
    process.stdin.on('data', (chunk) => (text += chunk));
    process.stdin.on('end', () => {
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new Error(`the job on stdin is not JSON: ${err.message}`));
      }
    });
  });
}

function runGenerator(work) {
  readJob()
    .then(work)
    .then((result) => {
      process.stdout.write(JSON.stringify(result) + '\n');
      process.exit(0);
    })
    .catch((err) => {
      process.stderr.write(`generator failed: ${err.stack || err}\n`);
      process.exit(1);
    });
}

module.exports = { runGenerator };
