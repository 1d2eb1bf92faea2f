// Offline checks of the Vector configuration (Vector itself is not in
// Debian, so `vector validate` cannot run here):
//  - structure: known top-level keys, known component types, and for those
//    types only options Vector has (a typo'd option is an error);
//  - wiring: every input exists (X.dropped only where X reroutes its failed
//    events), every source and transform output is consumed, every remap
//    that drops on error reroutes what it drops (nothing lost silently), no
//    cycles;
//  - the regexes of its VRL programs and the file source's globs, against
//    the sample lines and file names of a cases file.
//
// Usage: node check-vector.mjs CONFIG.yaml CASES.yml
import { Problems, loadYaml } from "./lib.mjs";

const [configFile, casesFile] = process.argv.slice(2);
if (!configFile || !casesFile) {
  process.stderr.write("usage: check-vector.mjs CONFIG.yaml CASES.yml\n");
  process.exit(2);
}
const problems = new Problems();
const [config] = loadYaml(configFile, problems);
const [cases] = loadYaml(casesFile, problems);
if (!config || !cases) {
  problems.report();
  process.exit(1);
}
const cfg = config.obj;
const at = (p) => config.lineOf(p);

const TOP = new Set([
  "data_dir", "sources", "transforms", "sinks", "api", "enrichment_tables", "secret", "schema", "log_schema",
  "acknowledgements", "timezone", "healthchecks", "expire_metrics_secs", "proxy", "tests",
]);
const COMMON = ["type", "inputs", "buffer", "healthcheck", "proxy", "acknowledgements", "graph"];
// Options of the component types this project uses (Vector's reference docs).
const OPTIONS = {
  "sources.file": [
    "include", "exclude", "read_from", "ignore_older_secs", "fingerprint", "max_line_bytes", "line_delimiter",
    "glob_minimum_cooldown_ms", "data_dir", "file_key", "host_key", "offset_key", "multiline", "encoding",
    "oldest_first", "remove_after_secs", "ignore_checkpoints", "ignore_not_found", "max_read_bytes",
    "rotate_wait_secs", "internal_metrics", "start_at_beginning", "ignore_older",
  ],
  "transforms.remap": ["source", "file", "files", "drop_on_error", "drop_on_abort", "reroute_dropped", "timezone", "metric_tag_values"],
  "transforms.reduce": [
    "group_by", "ends_when", "starts_when", "expire_after_ms", "flush_period_ms", "merge_strategies", "max_events",
    "end_every_period_ms",
  ],
  "sinks.loki": [
    "endpoint", "path", "encoding", "tenant_id", "labels", "structured_metadata", "remove_label_fields",
    "remove_structured_metadata_fields", "remove_timestamp", "compression", "out_of_order_action", "auth", "request",
    "batch", "tls", "dangerously_allow_unconfined_template_resolution",
  ],
};
const SUBOPTIONS = {
  "sources.file.fingerprint": ["strategy", "lines", "ignored_header_bytes"],
  "sinks.loki.encoding": ["codec", "except_fields", "only_fields", "timestamp_format"],
};
const ENUMS = {
  "sources.file.read_from": ["beginning", "end"],
  "sources.file.fingerprint.strategy": ["checksum", "device_and_inode"],
  "sinks.loki.out_of_order_action": ["accept", "drop", "rewrite_timestamp"],
  "sinks.loki.encoding.codec": ["json", "text", "logfmt", "raw_message"],
};
const MERGE = new Set([
  "array", "concat", "concat_newline", "concat_raw", "discard", "retain", "sum", "max", "min", "flat_unique",
  "longest_array", "shortest_array",
]);

for (const key of Object.keys(cfg)) if (!TOP.has(key)) problems.add(configFile, at([key]), `unknown top-level key ${JSON.stringify(key)}`);

const components = new Map(); // id -> { kind, type, obj }
for (const kind of ["sources", "transforms", "sinks"]) {
  for (const [id, comp] of Object.entries(cfg[kind] || {})) {
    const p = [kind, id];
    if (components.has(id)) problems.add(configFile, at(p), `component id ${id} used twice`);
    if (!comp || typeof comp !== "object") {
      problems.add(configFile, at(p), `${id}: not a mapping`);
      continue;
    }
    components.set(id, { kind, type: comp.type, obj: comp, p });
    const known = OPTIONS[`${kind}.${comp.type}`];
    if (!known) {
      problems.add(configFile, at([...p, "type"]), `${id}: component type ${JSON.stringify(comp.type)} is not one this check knows (${Object.keys(OPTIONS).join(", ")})`);
      continue;
    }
    for (const opt of Object.keys(comp)) {
      if (!COMMON.includes(opt) && !known.includes(opt)) problems.add(configFile, at([...p, opt]), `${id}: unknown option ${JSON.stringify(opt)} for ${kind}.${comp.type}`);
      const sub = SUBOPTIONS[`${kind}.${comp.type}.${opt}`];
      if (sub && comp[opt] && typeof comp[opt] === "object")
        for (const s of Object.keys(comp[opt]))
          if (!sub.includes(s)) problems.add(configFile, at([...p, opt, s]), `${id}: unknown option ${opt}.${s}`);
    }
    for (const [name, allowed] of Object.entries(ENUMS)) {
      const [k, t, ...rest] = name.split(".");
      if (k !== kind || t !== comp.type) continue;
      const v = rest.reduce((o, r) => (o && typeof o === "object" ? o[r] : undefined), comp);
      if (v !== undefined && !allowed.includes(v)) problems.add(configFile, at([...p, ...rest]), `${id}: ${rest.join(".")} ${JSON.stringify(v)} is none of ${allowed.join(", ")}`);
    }
    if (kind !== "sources" && (!Array.isArray(comp.inputs) || comp.inputs.length === 0))
      problems.add(configFile, at(p), `${id}: needs a non-empty inputs list`);
    if (comp.type === "remap" && typeof comp.source !== "string" && !comp.file && !comp.files)
      problems.add(configFile, at(p), `${id}: remap needs a source`);
    if (comp.type === "remap" && comp.drop_on_error === true && comp.reroute_dropped !== true)
      problems.add(configFile, at([...p, "drop_on_error"]), `${id}: drops failed events without reroute_dropped: they would vanish`);
    if (comp.type === "reduce")
      for (const [field, strategy] of Object.entries(comp.merge_strategies || {}))
        if (!MERGE.has(strategy)) problems.add(configFile, at([...p, "merge_strategies", field]), `${id}: unknown merge strategy ${JSON.stringify(strategy)}`);
    if (comp.type === "file" && (!Array.isArray(comp.include) || comp.include.length === 0))
      problems.add(configFile, at(p), `${id}: file source needs include globs`);
  }
}

// Wiring.
const consumed = new Set();
const edges = new Map();
for (const [id, c] of components) {
  for (const [i, input] of (c.obj.inputs || []).entries()) {
    consumed.add(input);
    const [from, output] = String(input).split(/\.(?=[^.]+$)/);
    const base = components.has(input) ? input : from;
    const src = components.get(base);
    if (!src || src.kind === "sinks" || (base !== input && !(output === "dropped" && src.type === "remap" && src.obj.reroute_dropped === true)))
      problems.add(configFile, at([...c.p, "inputs", i]), `${id}: input ${JSON.stringify(input)} is no source or transform output`);
    else edges.set(id, [...(edges.get(id) || []), base]);
  }
}
for (const [id, c] of components) {
  if (c.kind === "sinks") continue;
  if (!consumed.has(id)) problems.add(configFile, at(c.p), `${id}: its output goes to no component: its events would be lost`);
  if (c.type === "remap" && c.obj.reroute_dropped === true && !consumed.has(`${id}.dropped`))
    problems.add(configFile, at(c.p), `${id}: reroutes failed events to ${id}.dropped, which nothing reads`);
}
const state = new Map();
const visit = (id, trail) => {
  if (state.get(id) === "done") return;
  if (state.get(id) === "active") {
    problems.add(configFile, at(components.get(id).p), `cycle: ${[...trail, id].join(" -> ")}`);
    return;
  }
  state.set(id, "active");
  for (const next of edges.get(id) || []) visit(next, [...trail, id]);
  state.set(id, "done");
};
for (const id of components.keys()) visit(id, []);

// Regexes of the VRL programs: `name = parse_regex[!](value, r'...')`.
const regexes = new Map(); // "transform/variable" -> RegExp
for (const [id, c] of components) {
  if (c.type !== "remap" || typeof c.obj.source !== "string") continue;
  const re = /(\w+)\s*=\s*parse_regex!?\(\s*[^,]+,\s*r'((?:[^'\\]|\\.)*)'\s*\)/g;
  for (const m of c.obj.source.matchAll(re)) {
    try {
      regexes.set(`${id}/${m[1]}`, new RegExp(m[2].replace(/\(\?P</g, "(?<"), "u"));
    } catch (e) {
      problems.add(configFile, at([...c.p, "source"]), `${id}: regex of ${m[1]} does not compile: ${e.message}`);
    }
  }
}
const globToRegExp = (glob) =>
  new RegExp(`^${glob.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join("[^/]*")}$`);

const cfile = cases.obj;
let n = 0;
(cfile.regex_cases || []).forEach((c, i) => {
  n++;
  const re = regexes.get(`${c.transform}/${c.variable}`);
  if (!re) {
    problems.add(casesFile, cases.lineOf(["regex_cases", i]), `no parse_regex assigned to ${c.variable} in ${c.transform}`);
    return;
  }
  const m = re.exec(c.input);
  const got = m ? { ...m.groups } : null;
  const want = c.expect ?? null;
  if (JSON.stringify(got && Object.fromEntries(Object.entries(got).sort())) !== JSON.stringify(want && Object.fromEntries(Object.entries(want).sort())))
    problems.add(casesFile, cases.lineOf(["regex_cases", i]), `${c.name}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
});
(cfile.file_cases || []).forEach((c, i) => {
  n++;
  const src = components.get(c.source);
  if (!src || src.type !== "file") {
    problems.add(casesFile, cases.lineOf(["file_cases", i]), `${c.source} is no file source`);
    return;
  }
  const hit = (src.obj.include || []).some((g) => globToRegExp(g).test(c.path)) && !(src.obj.exclude || []).some((g) => globToRegExp(g).test(c.path));
  if (hit !== c.read) problems.add(casesFile, cases.lineOf(["file_cases", i]), `${c.name}: ${c.path} is ${hit ? "" : "not "}read by ${c.source}`);
});

if (problems.count) {
  problems.report();
  process.exit(1);
}
process.stdout.write(`${components.size} ${n}\n`);
