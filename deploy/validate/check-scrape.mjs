// Checks of the Prometheus scrape examples that Debian's promtool cannot do:
// it is built without Kubernetes service discovery, so `promtool check
// config` rejects kubernetes_sd_configs.
//
//   node check-scrape.mjs static IN.yml OUT.yml
//     writes IN with every kubernetes_sd_configs replaced by a static target,
//     for `promtool check config` to check everything else (relabel fields,
//     regexes compiled by Prometheus' own RE2, rule files).
//   node check-scrape.mjs relabel CASES.yml
//     runs the relabel_configs of a job of the scrape file named in CASES on
//     discovered targets (the labels kubernetes_sd would give a pod) and
//     compares the result with the expected target, or with "dropped".
//     Implements Prometheus' relabeling (replace, keep, drop, labelmap,
//     labeldrop, labelkeep) for that purpose.
import fs from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { Problems, loadYaml } from "./lib.mjs";

const [mode, ...rest] = process.argv.slice(2);
const problems = new Problems();

function loadOne(file) {
  const docs = loadYaml(file, problems);
  if (problems.count) {
    problems.report();
    process.exit(1);
  }
  if (docs.length !== 1) {
    process.stderr.write(`${file}: expected one YAML document\n`);
    process.exit(1);
  }
  return docs[0];
}

if (mode === "static") {
  const [input, output] = rest;
  const { obj } = loadOne(input);
  let replaced = 0;
  for (const job of obj.scrape_configs || []) {
    if (job.kubernetes_sd_configs) {
      delete job.kubernetes_sd_configs;
      job.static_configs = [{ targets: ["192.0.2.1:9464"] }];
      replaced++;
    }
  }
  fs.writeFileSync(output, stringify(obj));
  process.stdout.write(`${replaced}\n`);
  process.exit(0);
}

if (mode !== "relabel" || rest.length !== 1) {
  process.stderr.write("usage: check-scrape.mjs static IN.yml OUT.yml | relabel CASES.yml\n");
  process.exit(2);
}

// Go's regexp.Expand for $1, ${1}, $name, ${name}; $$ is a literal $.
function expand(template, match) {
  return template.replace(/\$(\$|\{(\w+)\}|(\w+))/g, (all, _t, braced, bare) => {
    if (all === "$$") return "$";
    const name = braced ?? bare;
    const v = /^\d+$/.test(name) ? match[Number(name)] : match.groups && match.groups[name];
    return v ?? "";
  });
}

// Prometheus anchors every relabel regex; its RE2 syntax and JavaScript's
// agree on everything these configs use ((?P<name>) is spelled (?<name>)).
function anchored(regex) {
  return new RegExp(`^(?:${String(regex ?? "(.*)").replace(/\(\?P</g, "(?<")})$`, "s");
}

function relabel(labels, configs) {
  const ls = { ...labels };
  for (const rc of configs) {
    const action = (rc.action ?? "replace").toLowerCase();
    const re = anchored(rc.regex);
    const value = (rc.source_labels ?? []).map((n) => ls[n] ?? "").join(rc.separator ?? ";");
    switch (action) {
      case "replace": {
        const m = re.exec(value);
        if (!m) break;
        const target = expand(rc.target_label, m);
        const res = expand(rc.replacement ?? "$1", m);
        if (res === "") delete ls[target];
        else ls[target] = res;
        break;
      }
      case "keep":
        if (!re.test(value)) return null;
        break;
      case "drop":
        if (re.test(value)) return null;
        break;
      case "labelmap":
        for (const [k, v] of Object.entries({ ...ls })) {
          const m = re.exec(k);
          if (m) ls[expand(rc.replacement ?? "$1", m)] = v;
        }
        break;
      case "labeldrop":
        for (const k of Object.keys(ls)) if (re.test(k)) delete ls[k];
        break;
      case "labelkeep":
        for (const k of Object.keys(ls)) if (!re.test(k)) delete ls[k];
        break;
      default:
        throw new Error(`relabel action ${action} is not implemented here`);
    }
  }
  return ls;
}

// What Prometheus makes of the relabeled labels: instance defaults to the
// address, and labels starting with __ are not kept on the series.
function target(ls, scheme) {
  const labels = {};
  for (const [k, v] of Object.entries(ls)) if (!k.startsWith("__")) labels[k] = v;
  if (labels.instance === undefined) labels.instance = ls.__address__;
  return { address: ls.__address__, path: ls.__metrics_path__, scheme: ls.__scheme__ ?? scheme, labels };
}

const casesFile = rest[0];
const cases = loadOne(casesFile);
const scrapeFile = path.resolve(path.dirname(casesFile), cases.obj.scrape_config);
const scrape = loadOne(scrapeFile).obj;
const job = (scrape.scrape_configs || []).find((j) => j.job_name === cases.obj.job);
if (!job) {
  process.stderr.write(`${casesFile}: no job ${JSON.stringify(cases.obj.job)} in ${scrapeFile}\n`);
  process.exit(1);
}
const sorted = (o) => JSON.stringify(Object.fromEntries(Object.entries(o).sort()));
let n = 0;
(cases.obj.cases || []).forEach((c, i) => {
  n++;
  const initial = {
    job: job.job_name,
    __metrics_path__: job.metrics_path ?? "/metrics",
    __scheme__: job.scheme ?? "http",
    ...c.discovered,
  };
  const out = relabel(initial, job.relabel_configs || []);
  const got = out === null ? "dropped" : target(out, job.scheme ?? "http");
  const want = c.expect === "dropped" ? "dropped" : { scheme: "http", ...c.expect };
  const same =
    got === "dropped" || want === "dropped"
      ? got === want
      : got.address === want.address && got.path === want.path && got.scheme === want.scheme && sorted(got.labels) === sorted(want.labels);
  if (!same)
    problems.add(
      casesFile,
      cases.lineOf(["cases", i]),
      `${c.name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`,
    );
});
if (problems.count) {
  problems.report();
  process.exit(1);
}
process.stdout.write(`${n}\n`);
