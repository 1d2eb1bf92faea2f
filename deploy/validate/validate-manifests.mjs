// Validates Kubernetes manifests offline, about as strictly as an API server
// with strict field validation would:
//  1. each object against its kind's OpenAPI schema (kubernetes-models'
//     validate(): types, enums, formats, required fields; the
//     prometheus-operator CRD schemas for ServiceMonitor/PrometheusRule);
//  2. unknown fields (a typo'd key), which those validators let through: the
//     object is type-checked as a literal of the same models' TypeScript
//     interface, whose excess-property check rejects any key the API lacks;
//  3. rules the API server enforces beyond the schema (selector vs template
//     labels, volume and port references, requests <= limits, capability
//     names, SYS_ADMIN with allowPrivilegeEscalation=false), references
//     between the objects (Service -> pod ports, ServiceMonitor -> Service,
//     NetworkPolicy -> pod ports), and this project's own rules (no
//     namespace in any object, read-only hostPath mounts, drop ALL, read-only
//     root filesystem, the SYS_ADMIN alternative = main DaemonSet but for the
//     securityContext).
//
// Usage: node validate-manifests.mjs [--expect-fail] FILE.yaml...
// Prints one summary line on success, every problem (file:line: ...) on
// stderr otherwise, and exits 1. With --expect-fail: exits 0 only if the
// files have at least one problem (used to prove the checks bite).
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import ts from "typescript";
import { Problems, loadYaml, pathToString, pointerToPath, validateDir, rel } from "./lib.mjs";

const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
const expectFail = args[0] === "--expect-fail";
const files = expectFail ? args.slice(1) : args;
if (files.length === 0) {
  process.stderr.write("usage: validate-manifests.mjs [--expect-fail] FILE.yaml...\n");
  process.exit(2);
}

const problems = new Problems();

// apiVersion + kind -> the models' module (validator and TypeScript types).
function modelModule(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !/^[A-Z][A-Za-z0-9]*$/.test(kind)) return null;
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  let mod;
  if (group === "monitoring.coreos.com") mod = `@kubernetes-models/prometheus-operator/monitoring.coreos.com/${version}/${kind}`;
  else if (group === "") mod = `kubernetes-models/${version}/${kind}`;
  else mod = `kubernetes-models/${group}/${version}/${kind}`;
  try {
    require.resolve(mod);
    return mod;
  } catch {
    return null;
  }
}

const docs = [];
for (const file of files) {
  for (const d of loadYaml(file, problems)) {
    const { obj } = d;
    if (obj === null || typeof obj !== "object" || Array.isArray(obj)) {
      problems.add(file, d.lineOf([]), "not a Kubernetes object (a YAML mapping)");
      continue;
    }
    d.module = modelModule(obj.apiVersion, obj.kind);
    if (!d.module) {
      problems.add(file, d.lineOf(["kind"]), `no schema for apiVersion ${JSON.stringify(obj.apiVersion)} kind ${JSON.stringify(obj.kind)}`);
      continue;
    }
    docs.push(d);
  }
}

// 1. Schemas.
for (const d of docs) {
  const Model = require(d.module)[d.obj.kind];
  try {
    new Model(d.obj).validate();
  } catch (e) {
    if (!Array.isArray(e.errors)) throw e;
    for (const err of e.errors) {
      const p = pointerToPath(err.instancePath);
      const where = pathToString(p) || "(object)";
      const extra = err.params && err.params.allowedValues ? ` (${err.params.allowedValues.join(", ")})` : "";
      problems.add(d.file, d.lineOf(p), `${where}: ${err.message}${extra}`);
    }
  }
}

// 2. Unknown fields and types, through the models' TypeScript interfaces.
function typeCheck(documents) {
  let header = "";
  documents.forEach((d, i) => {
    header += `import type { I${d.obj.kind} as T${i} } from ${JSON.stringify(d.module)};\n`;
  });
  let out = header;
  const spans = [];
  const emit = (value, p, docIndex) => {
    if (Array.isArray(value)) {
      out += "[";
      value.forEach((v, i) => {
        if (i) out += ", ";
        const start = out.length;
        emit(v, [...p, i], docIndex);
        spans.push({ start, end: out.length, path: [...p, i], docIndex });
      });
      out += "]";
    } else if (value !== null && typeof value === "object") {
      out += "{";
      Object.entries(value).forEach(([k, v], i) => {
        if (i) out += ", ";
        const start = out.length;
        out += `${JSON.stringify(k)}: `;
        emit(v, [...p, k], docIndex);
        spans.push({ start, end: out.length, path: [...p, k], docIndex });
      });
      out += "}";
    } else out += JSON.stringify(value);
  };
  documents.forEach((d, i) => {
    out += `export const doc${i}: T${i} = `;
    emit(d.obj, [], i);
    out += ";\n";
  });

  const virtual = path.join(validateDir, "__manifests__.ts");
  const options = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
    target: ts.ScriptTarget.ES2020,
    lib: ["lib.es2020.d.ts"],
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
  };
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) =>
    path.resolve(name) === virtual ? ts.createSourceFile(name, out, lang, true) : getSourceFile.call(host, name, lang, ...rest);
  host.fileExists = (name) => path.resolve(name) === virtual || fileExists.call(host, name);
  host.readFile = (name) => (path.resolve(name) === virtual ? out : readFile.call(host, name));
  const program = ts.createProgram([virtual], options, host);
  const diagnostics = ts.getPreEmitDiagnostics(program);
  for (const diag of diagnostics) {
    const message = ts.flattenDiagnosticMessageText(diag.messageText, "\n").split("\n")[0];
    if (!diag.file || path.resolve(diag.file.fileName) !== virtual || diag.start === undefined) {
      problems.add(path.join(validateDir, "validate-manifests.mjs"), 0, `type check: ${message}`);
      continue;
    }
    // The innermost property or element that contains the error.
    let best = null;
    for (const s of spans)
      if (s.start <= diag.start && diag.start < s.end && (!best || s.end - s.start < best.end - best.start)) best = s;
    const d = best ? documents[best.docIndex] : null;
    if (!d) {
      problems.add(documents[0].file, 0, `type check: ${message}`);
      continue;
    }
    const where = pathToString(best.path);
    let text = message;
    const excess = /known properties, and '"?([^'"]+)"?' does not exist in type/.exec(message);
    if (excess) text = `unknown field ${JSON.stringify(excess[1])}`;
    else if (text.length > 240) text = `${text.slice(0, 240)}...`;
    problems.add(d.file, d.lineOf(best.path), `${where}: ${text}`);
  }
}
if (docs.length) typeCheck(docs);

// 3. API-server rules beyond the schema, references, project rules.
const CAPABILITIES = new Set(
  ("ALL AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE CHOWN DAC_OVERRIDE " +
    "DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE MAC_ADMIN MAC_OVERRIDE MKNOD " +
    "NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW PERFMON SETFCAP SETGID SETPCAP SETUID SYS_ADMIN SYS_BOOT " +
    "SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT SYS_PTRACE SYS_RAWIO SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG " +
    "WAKE_ALARM").split(" "),
);
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/;

function quantity(q) {
  const m = /^([0-9.]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/.exec(String(q));
  if (!m) return NaN;
  const mult = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4 };
  return Number(m[1]) * (m[2] ? mult[m[2]] : 1);
}

const matches = (selector, labels) =>
  selector && Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels && labels[k] === v);

// Pod templates of workload objects, with the path to them.
function podTemplate(d) {
  const { kind, spec } = d.obj;
  if (["DaemonSet", "Deployment", "StatefulSet", "ReplicaSet", "Job"].includes(kind) && spec && spec.template)
    return { template: spec.template, base: ["spec", "template"] };
  return null;
}

for (const d of docs) {
  const { obj, file } = d;
  const at = (p) => d.lineOf(p);
  const meta = obj.metadata || {};
  if (typeof meta.name === "string" && (!DNS1123_SUBDOMAIN.test(meta.name) || meta.name.length > 253))
    problems.add(file, at(["metadata", "name"]), `metadata.name ${JSON.stringify(meta.name)} is not a DNS-1123 subdomain`);
  if (meta.namespace !== undefined)
    problems.add(file, at(["metadata", "namespace"]), "metadata.namespace: the manifests are namespace-agnostic (kubectl apply -n NAMESPACE)");

  const pt = podTemplate(d);
  if (!pt) continue;
  const { template, base } = pt;
  const podSpec = template.spec || {};
  const sel = obj.spec.selector && obj.spec.selector.matchLabels;
  const tlabels = (template.metadata && template.metadata.labels) || {};
  if (sel && !Object.entries(sel).every(([k, v]) => tlabels[k] === v))
    problems.add(file, at(["spec", "selector", "matchLabels"]), "spec.selector does not match the template's labels");

  const volumes = new Map();
  (podSpec.volumes || []).forEach((v, i) => {
    if (volumes.has(v.name)) problems.add(file, at([...base, "spec", "volumes", i, "name"]), `duplicate volume name ${JSON.stringify(v.name)}`);
    volumes.set(v.name, v);
  });
  const containers = [...(podSpec.initContainers || []).map((c, i) => [c, "initContainers", i]), ...(podSpec.containers || []).map((c, i) => [c, "containers", i])];
  for (const [c, list, ci] of containers) {
    const cp = [...base, "spec", list, ci];
    const portNames = new Set();
    (c.ports || []).forEach((port, pi) => {
      if (port.name === undefined) return;
      if (port.name.length > 15 || !IANA_SVC_NAME.test(port.name) || !/[a-z]/.test(port.name))
        problems.add(file, at([...cp, "ports", pi, "name"]), `port name ${JSON.stringify(port.name)} is not an IANA service name (at most 15 lower-case letters, digits, '-')`);
      if (portNames.has(port.name)) problems.add(file, at([...cp, "ports", pi, "name"]), `duplicate port name ${JSON.stringify(port.name)}`);
      portNames.add(port.name);
    });
    for (const probe of ["startupProbe", "livenessProbe", "readinessProbe"]) {
      const handler = c[probe] && (c[probe].httpGet || c[probe].tcpSocket || c[probe].grpc);
      if (handler && typeof handler.port === "string" && !portNames.has(handler.port))
        problems.add(file, at([...cp, probe]), `${probe} uses port ${JSON.stringify(handler.port)}, which the container does not declare`);
    }
    const mountPaths = new Set();
    (c.volumeMounts || []).forEach((m, mi) => {
      const mp = [...cp, "volumeMounts", mi];
      const v = volumes.get(m.name);
      if (!v) problems.add(file, at([...mp, "name"]), `volumeMount ${JSON.stringify(m.name)} names no volume of the pod`);
      else if (v.hostPath && m.readOnly !== true)
        problems.add(file, at(mp), `hostPath volume ${JSON.stringify(m.name)} must be mounted readOnly: true (project rule)`);
      if (mountPaths.has(m.mountPath)) problems.add(file, at([...mp, "mountPath"]), `duplicate mountPath ${m.mountPath}`);
      mountPaths.add(m.mountPath);
    });
    const res = c.resources || {};
    for (const r of Object.keys(res.requests || {})) {
      if (res.limits && res.limits[r] !== undefined && quantity(res.requests[r]) > quantity(res.limits[r]))
        problems.add(file, at([...cp, "resources", "requests", r]), `resources.requests.${r} ${res.requests[r]} exceeds limits.${r} ${res.limits[r]}`);
    }
    for (const [r, q] of [...Object.entries(res.requests || {}), ...Object.entries(res.limits || {})])
      if (Number.isNaN(quantity(q))) problems.add(file, at([...cp, "resources"]), `resources ${r}: ${JSON.stringify(q)} is not a quantity`);
    const sc = c.securityContext || {};
    const caps = sc.capabilities || {};
    for (const which of ["add", "drop"])
      (caps[which] || []).forEach((name, i) => {
        if (!CAPABILITIES.has(name))
          problems.add(file, at([...cp, "securityContext", "capabilities", which, i]), `unknown capability ${JSON.stringify(name)} (names without CAP_, e.g. BPF)`);
      });
    if (sc.allowPrivilegeEscalation === false && ((caps.add || []).includes("SYS_ADMIN") || sc.privileged === true))
      problems.add(file, at([...cp, "securityContext", "allowPrivilegeEscalation"]), "allowPrivilegeEscalation: false cannot be combined with privileged or CAP_SYS_ADMIN (API server rule)");
    if (obj.kind === "DaemonSet") {
      if (!(caps.drop || []).includes("ALL")) problems.add(file, at([...cp, "securityContext"]), "capabilities.drop must contain ALL (project rule)");
      if (sc.readOnlyRootFilesystem !== true) problems.add(file, at([...cp, "securityContext"]), "readOnlyRootFilesystem must be true (project rule)");
      if (sc.privileged === true) problems.add(file, at([...cp, "securityContext", "privileged"]), "the agent must not run privileged (project rule)");
    }
  }
}

// References between objects (all files together).
const pods = docs
  .map((d) => ({ d, pt: podTemplate(d) }))
  .filter((x) => x.pt)
  .map(({ d, pt }) => ({
    d,
    labels: (pt.template.metadata && pt.template.metadata.labels) || {},
    ports: new Set(((pt.template.spec && pt.template.spec.containers) || []).flatMap((c) => (c.ports || []).map((p) => p.name))),
  }));
const services = docs.filter((d) => d.obj.kind === "Service");
for (const d of services) {
  const spec = d.obj.spec || {};
  const selected = pods.filter((p) => matches(spec.selector, p.labels));
  if (spec.selector && selected.length === 0)
    problems.add(d.file, d.lineOf(["spec", "selector"]), "the Service's selector matches no pod template in these files");
  (spec.ports || []).forEach((port, i) => {
    if (typeof port.targetPort === "string" && selected.length && !selected.every((p) => p.ports.has(port.targetPort)))
      problems.add(d.file, d.lineOf(["spec", "ports", i, "targetPort"]), `targetPort ${JSON.stringify(port.targetPort)} is no container port name of the selected pods`);
  });
}
for (const d of docs.filter((x) => x.obj.kind === "ServiceMonitor")) {
  const spec = d.obj.spec || {};
  const sel = spec.selector && spec.selector.matchLabels;
  const svcs = services.filter((s) => matches(sel, s.obj.metadata && s.obj.metadata.labels));
  if (svcs.length === 0) problems.add(d.file, d.lineOf(["spec", "selector"]), "the ServiceMonitor's selector matches no Service in these files");
  (spec.endpoints || []).forEach((ep, i) => {
    if (ep.port && svcs.length && !svcs.every((s) => ((s.obj.spec && s.obj.spec.ports) || []).some((p) => p.name === ep.port)))
      problems.add(d.file, d.lineOf(["spec", "endpoints", i, "port"]), `endpoint port ${JSON.stringify(ep.port)} is no port name of the selected Service`);
  });
}
for (const d of docs.filter((x) => x.obj.kind === "NetworkPolicy")) {
  const spec = d.obj.spec || {};
  const sel = spec.podSelector && spec.podSelector.matchLabels;
  const selected = pods.filter((p) => matches(sel, p.labels));
  if (selected.length === 0) problems.add(d.file, d.lineOf(["spec", "podSelector"]), "the NetworkPolicy's podSelector matches no pod template in these files");
  (spec.ingress || []).forEach((rule, i) =>
    (rule.ports || []).forEach((port, j) => {
      if (typeof port.port === "string" && selected.length && !selected.every((p) => p.ports.has(port.port)))
        problems.add(d.file, d.lineOf(["spec", "ingress", i, "ports", j, "port"]), `port ${JSON.stringify(port.port)} is no container port name of the selected pods`);
    }),
  );
}

// The SYS_ADMIN alternative is the main DaemonSet but for the container's
// securityContext: compare them with that removed.
const daemonsets = docs.filter((d) => d.obj.kind === "DaemonSet");
const main = daemonsets.find((d) => /(^|\/)kubernetes\/daemonset\.yaml$/.test(path.resolve(d.file)));
for (const alt of daemonsets.filter((d) => /(^|\/)kubernetes\/alternatives\//.test(path.resolve(d.file)))) {
  if (!main) break;
  const strip = (o) => {
    const c = JSON.parse(JSON.stringify(o));
    for (const k of c.spec.template.spec.containers || []) delete k.securityContext;
    return c;
  };
  const a = JSON.stringify(strip(alt.obj));
  const b = JSON.stringify(strip(main.obj));
  if (a !== b)
    problems.add(alt.file, alt.lineOf(["spec"]), `differs from ${rel(main.file)} in more than the container securityContext: keep them in step`);
}

if (expectFail) {
  if (problems.count === 0) {
    process.stderr.write(`validate-manifests: expected problems in ${files.map(rel).join(" ")}, found none\n`);
    process.exit(1);
  }
  process.exit(0);
}
if (problems.count) {
  problems.report();
  process.exit(1);
}
const pkg = (name) => JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`), "utf8")).version;
process.stdout.write(
  `kubernetes manifests: ${docs.length} objects in ${files.length} files valid ` +
    `(schemas: kubernetes-models ${pkg("kubernetes-models")}, @kubernetes-models/prometheus-operator ${pkg("@kubernetes-models/prometheus-operator")}; ` +
    `unknown fields: typescript ${ts.version}; API and project rules)\n`,
);
