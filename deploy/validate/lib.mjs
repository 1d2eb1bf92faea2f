// Shared helpers of the deploy/ validators: YAML documents with line numbers
// for any path into them, and error collection.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { LineCounter, isMap, isSeq, parseAllDocuments } from "yaml";

export const validateDir = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(validateDir, "..", "..");

export function rel(file) {
  return path.relative(repoRoot, path.resolve(file));
}

export class Problems {
  constructor() {
    this.list = [];
  }
  add(file, line, message) {
    this.list.push(`${rel(file)}${line ? `:${line}` : ""}: ${message}`);
  }
  get count() {
    return this.list.length;
  }
  report(stream = process.stderr) {
    for (const p of this.list) stream.write(`${p}\n`);
  }
}

// Every YAML document of a file, parsed strictly (duplicate keys and YAML
// warnings are problems too), each as { obj, index, lineOf(path) }.
export function loadYaml(file, problems) {
  const text = fs.readFileSync(file, "utf8");
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter, uniqueKeys: true, merge: true, prettyErrors: false });
  const lineAt = (offset) => lineCounter.linePos(offset).line;
  const out = [];
  let index = 0;
  for (const doc of docs) {
    for (const e of [...doc.errors, ...doc.warnings])
      problems.add(file, e.pos ? lineAt(e.pos[0]) : 0, `YAML: ${e.message.split("\n")[0]}`);
    if (doc.errors.length) continue;
    if (doc.contents === null) continue;
    const docIndex = index++;
    out.push({
      file,
      index: docIndex,
      obj: doc.toJS(),
      // Line of the deepest node that exists along path (keys and indexes).
      lineOf(p) {
        let node = doc.contents;
        let line = node && node.range ? lineAt(node.range[0]) : 1;
        for (const key of p) {
          if (isMap(node)) {
            const pair = node.items.find((it) => it.key && String(it.key.value) === String(key));
            if (!pair) break;
            line = lineAt(pair.key.range[0]);
            node = pair.value;
          } else if (isSeq(node) && Number.isInteger(Number(key)) && node.items[Number(key)]) {
            node = node.items[Number(key)];
            if (node && node.range) line = lineAt(node.range[0]);
          } else break;
        }
        return line;
      },
    });
  }
  return out;
}

// "/spec/template/0" (JSON pointer, as ajv reports) -> ["spec", "template", "0"]
export function pointerToPath(pointer) {
  if (!pointer) return [];
  return pointer
    .split("/")
    .slice(1)
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export function pathToString(p) {
  return p.map((k) => (/^\d+$/.test(String(k)) ? `[${k}]` : `.${k}`)).join("").replace(/^\./, "");
}

export function listFiles(dir, re) {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, re));
    else if (re.test(entry.name)) out.push(full);
  }
  return out.sort();
}
