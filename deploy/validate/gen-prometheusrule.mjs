// Writes deploy/kubernetes/optional/prometheusrule.yaml: the alert rules of
// deploy/prometheus/tcpleak-alerts.yml as a prometheus-operator
// PrometheusRule. scripts/check-deploy regenerates it and fails when the
// committed file differs, so edit the rules file and run:
//   node deploy/validate/gen-prometheusrule.mjs
// With --check it writes nothing and exits 1 when the committed file is not
// what it would write, or does not parse back to the same rule groups.
import fs from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { Problems, loadYaml, repoRoot } from "./lib.mjs";

const rulesFile = path.join(repoRoot, "deploy/prometheus/tcpleak-alerts.yml");
const check = process.argv[2] === "--check";
const out = path.join(repoRoot, "deploy/kubernetes/optional/prometheusrule.yaml");
const problems = new Problems();
const [rules] = loadYaml(rulesFile, problems);
if (problems.count || !rules) {
  problems.report();
  process.exit(1);
}
const object = {
  apiVersion: "monitoring.coreos.com/v1",
  kind: "PrometheusRule",
  metadata: {
    name: "tcpleak",
    labels: { "app.kubernetes.io/name": "tcpleak", "app.kubernetes.io/component": "agent" },
  },
  spec: { groups: rules.obj.groups },
};
const header = `# GENERATED from deploy/prometheus/tcpleak-alerts.yml by
# deploy/validate/gen-prometheusrule.mjs: edit the rules there, then rerun it
# (scripts/check-deploy fails while this file is stale).
#
# OPTIONAL, for prometheus-operator users: the tcpleak alert rules as a
# PrometheusRule. Your Prometheus resource's ruleSelector must match its
# labels (add e.g. its release label). Apply in the agent's namespace:
#   kubectl apply -n NAMESPACE -f deploy/kubernetes/optional/prometheusrule.yaml
`;
const text = header + stringify(object, { lineWidth: 120, minContentWidth: 40 });
if (!check) {
  fs.writeFileSync(out, text);
  process.exit(0);
}
const committed = fs.existsSync(out) ? fs.readFileSync(out, "utf8") : "";
const [parsed] = committed ? loadYaml(out, problems) : [];
const same = parsed && JSON.stringify(parsed.obj.spec.groups) === JSON.stringify(rules.obj.groups);
if (committed !== text || !same || problems.count) {
  problems.report();
  process.stderr.write(
    "deploy/kubernetes/optional/prometheusrule.yaml is stale: run node deploy/validate/gen-prometheusrule.mjs\n",
  );
  process.exit(1);
}
