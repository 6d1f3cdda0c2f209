import fs from 'node:fs';
import path from 'node:path';

function findRoot(start: string): string {
  let dir = start;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error('project root (package.json) not found');
    dir = parent;
  }
  return dir;
}

/** The project root, whether running from src/ (tests) or dist/src/ (built). */
export const ROOT = findRoot(__dirname);
export const VIEWS_DIR = path.join(ROOT, 'views');
export const PUBLIC_DIR = path.join(ROOT, 'public');
export const MIGRATIONS_DIR = path.join(ROOT, 'migrations');
