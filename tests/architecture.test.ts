import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../src/paths';

/**
 * The data layer's rule, checked on the source so it cannot drift (docs/architecture.md, "Who owns
 * which table"): SQL lives only in a feature's repo.ts or in src/db/, a route never imports a repo,
 * and each table is written by the one module the ownership map names. Also the templates' rule: they
 * pick no words and write <time> through one partial. A failure names file and line.
 */

const SRC = path.join(ROOT, 'src');

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const relative = (file: string): string => path.relative(ROOT, file).split(path.sep).join('/');
const isRepo = (file: string): boolean => /^src\/(features|platform)\/[^/]+\/repo\.ts$/.test(relative(file));
const isDbLayer = (file: string): boolean => relative(file).startsWith('src/db/');

/** Comments blanked out (newlines kept, so line numbers stay right): a comment may say SELECT. */
function withoutComments(text: string): string {
  const blank = (comment: string): string => comment.replace(/[^\n]/g, ' ');
  return text
    .replace(/^[ \t]*\/\*[\s\S]*?\*\//gm, blank)
    .replace(/^[ \t]*\/\/.*$/gm, blank)
    .replace(/[ \t]\/\/ .*$/gm, blank);
}

const lineOf = (text: string, index: number): number => text.slice(0, index).split('\n').length;

/** Running SQL (a driver call) or writing it (SQL keywords in a string). A regular expression's .exec() is neither. */
const SQL_PATTERNS: RegExp[] = [
  /\.(?:prepare|pragma)\(/g,
  /(?<!\/[dgimsuy]*)\.exec\(/g,
  /\bSELECT\s+[\w*(]/g,
  /\bINSERT\s+(?:OR\s+\w+\s+)?INTO\b/g,
  /\bUPDATE\s+\w+\s+SET\b/g,
  /\bDELETE\s+FROM\b/g,
];

/** `file:line: code` for every place in `text` that one of the patterns matches. */
function findAll(file: string, text: string, patterns: RegExp[]): string[] {
  const lines = text.split('\n');
  const found = new Set<string>();
  for (const pattern of patterns) {
    for (const match of text.matchAll(pattern)) {
      const line = lineOf(text, match.index ?? 0);
      found.add(`${relative(file)}:${line}: ${lines[line - 1].trim()}`);
    }
  }
  return [...found];
}

/** The ownership map: the rows of the table under "Who owns which table" in docs/architecture.md. */
function ownershipMap(): Map<string, string> {
  const doc = fs.readFileSync(path.join(ROOT, 'docs', 'architecture.md'), 'utf8');
  const section = doc.split(/^## Who owns which table$/m)[1] ?? '';
  const owners = new Map<string, string>();
  for (const [, tables, owner] of section.matchAll(/^\| ([a-z_, `]+) \| `([^`]+)` \|/gm)) {
    for (const table of tables.split(',')) owners.set(table.replace(/`/g, '').trim(), owner);
  }
  return owners;
}

function migrationTables(): string[] {
  const dir = path.join(ROOT, 'migrations');
  const sql = fs
    .readdirSync(dir)
    .map((file) => fs.readFileSync(path.join(dir, file), 'utf8'))
    .join('\n');
  return [...sql.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?(\w+)/g)].map((m) => m[1]);
}

describe('the data layer (docs/architecture.md)', () => {
  const files = sourceFiles(SRC);

  it('keeps SQL in src/features/*/repo.ts, src/platform/*/repo.ts and src/db/: nowhere else prepares, executes or spells a statement', () => {
    const outside = files.filter((file) => !isRepo(file) && !isDbLayer(file));
    const found = outside.flatMap((file) => findAll(file, withoutComments(fs.readFileSync(file, 'utf8')), SQL_PATTERNS));
    expect(found).toEqual([]);
  });

  it('has no route that imports a repo: routes call services', () => {
    const routes = files.filter((file) => path.basename(file) === 'routes.ts');
    const found = routes.flatMap((file) => findAll(file, withoutComments(fs.readFileSync(file, 'utf8')), [/from '[^']*\/repo'/g, /require\('[^']*\/repo'\)/g]));
    expect(found).toEqual([]);
  });

  it('names one owner for every table the migrations create, and that owner exists', () => {
    const owners = ownershipMap();
    const tables = [...migrationTables(), 'schema_migrations'];
    expect(tables.filter((table) => !owners.has(table))).toEqual([]);
    expect([...new Set(owners.values())].filter((owner) => !fs.existsSync(path.join(ROOT, owner)))).toEqual([]);
  });

  it('lets only the owning module write a table (INSERT, UPDATE, DELETE)', () => {
    const owners = ownershipMap();
    const writes = [/\bINSERT\s+(?:OR\s+\w+\s+)?INTO\s+(\w+)/g, /\bUPDATE\s+(\w+)\s+SET\b/g, /\bDELETE\s+FROM\s+(\w+)/g];
    const found: string[] = [];
    for (const file of files.filter((f) => isRepo(f) || isDbLayer(f))) {
      const text = withoutComments(fs.readFileSync(file, 'utf8'));
      for (const pattern of writes) {
        for (const match of text.matchAll(pattern)) {
          const owner = owners.get(match[1]);
          if (owner !== relative(file)) found.push(`${relative(file)}:${lineOf(text, match.index ?? 0)}: writes ${match[1]}, owned by ${owner ?? 'nobody'}`);
        }
      }
    }
    expect(found).toEqual([]);
  });
});

/** Every page and fragment template (mail templates are text for one message: they are not checked here). */
function consoleTemplates(dir = path.join(ROOT, 'views')): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'mail' ? [] : consoleTemplates(full);
    return entry.name.endsWith('.njk') ? [full] : [];
  });
}

describe('the templates (docs/architecture.md: words come with the view model)', () => {
  const templates = consoleTemplates();

  it('pick no words themselves: no ternary between labels, no choice of words by a status or a credential kind', () => {
    const patterns = [
      /\{\{\s*'(?:[A-Z]|yes'|no')[^']*'\s+if\b/g, // {{ 'Enable' if … else 'Disable' }}
      /\{%\s*(?:el)?if\s+[\w.]*(?:status|kind)\s*==\s*[^%]*%\}[A-Z][a-z]/g, // {% if status == 404 %}Not found
      /\bkind\s*==\s*'(?:basic|oauth)'/g,
    ];
    expect(templates.length).toBeGreaterThan(20);
    expect(templates.flatMap((file) => findAll(file, fs.readFileSync(file, 'utf8'), patterns))).toEqual([]);
  });

  it('write every <time> through the one time partial (views/partials/time.njk)', () => {
    const others = templates.filter((file) => relative(file) !== 'views/partials/time.njk');
    expect(others.flatMap((file) => findAll(file, fs.readFileSync(file, 'utf8'), [/<time\b/g]))).toEqual([]);
  });
});
