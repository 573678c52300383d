/**
 * deploy/kubernetes/ checked as YAML (no cluster can run here): every document parses; the connection
 * files in the Secret are valid for the protocol's own parser; the Service's ports, the controller's
 * container ports and the connection files agree; selectors match labels; the engines read the Secret's
 * engine file through the variable tspengine reads; every flag a container passes exists in that CLI.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parseAllDocuments } from "yaml";
import { CONNECTION_INFO_ENV, parseConnectionInfo } from "@tsparallel/protocol";
import { bins, repoRoot } from "./support/paths.js";

/** Kubernetes objects as parsed: checked field by field below. */
type Doc = any;

const dir = join(repoRoot, "deploy/kubernetes");

function load(file: string): Doc[] {
  const docs = parseAllDocuments(readFileSync(join(dir, file), "utf8"));
  for (const doc of docs) assert.deepEqual(doc.errors.map((e) => e.message), [], `${file} parses`);
  return docs.map((d) => d.toJS() as Doc);
}

const find = (docs: Doc[], kind: string, name: string): Doc => {
  const doc = docs.find((d) => d.kind === kind && d.metadata?.name === name);
  assert.ok(doc, `${kind} ${name} exists`);
  return doc;
};

/** Long options a CLI's --help lists. */
function helpFlags(bin: string): Set<string> {
  const help = execFileSync(process.execPath, [bin, "--help"]).toString();
  return new Set([...help.matchAll(/(--[a-z][a-z-]*)/g)].map((m) => m[1]!));
}

describe("deploy/kubernetes", () => {
  const secretDocs = load("connection-secret.yaml");
  const controllerDocs = load("controller.yaml");
  const engineDocs = load("engines.yaml");
  const secret = find(secretDocs, "Secret", "tsparallel-connection");
  const controller = find(controllerDocs, "Deployment", "tsparallel-controller");
  const service = find(controllerDocs, "Service", "tsparallel-controller");
  const engines = find(engineDocs, "Deployment", "tsparallel-engines");

  test("the Secret holds a client and an engine connection file the protocol accepts, with one key, naming the Service", () => {
    const client = parseConnectionInfo(secret.stringData["tspcontroller-client.json"], "the Secret's client file", "client");
    const engine = parseConnectionInfo(secret.stringData["tspcontroller-engine.json"], "the Secret's engine file", "engine");
    assert.equal(client.key, engine.key);
    assert.equal(client.location, service.metadata.name);
    assert.equal(engine.location, service.metadata.name);
    assert.equal(engine.ip, "0.0.0.0");
  });

  test("Service ports = connection-file ports = controller container ports, by name", () => {
    const client = JSON.parse(secret.stringData["tspcontroller-client.json"]) as { ports: Record<string, number> };
    const engine = JSON.parse(secret.stringData["tspcontroller-engine.json"]) as { ports: Record<string, number> };
    const filePorts = { ...client.ports, ...engine.ports };
    const servicePorts = Object.fromEntries(service.spec.ports.map((p: Doc) => [p.name, p.port]));
    assert.deepEqual(servicePorts, filePorts);
    const container = controller.spec.template.spec.containers[0];
    const containerPorts = Object.fromEntries(container.ports.map((p: Doc) => [p.name, p.containerPort]));
    assert.deepEqual(containerPorts, filePorts);
    for (const p of service.spec.ports) assert.ok(p.targetPort in containerPorts, `targetPort ${p.targetPort} is a container port name`);
  });

  test("selectors match their pods' labels; the controller mounts the Secret; engines read it through TSPARALLEL_CONNECTION_INFO", () => {
    for (const deployment of [controller, engines]) {
      const labels = deployment.spec.template.metadata.labels;
      for (const [k, v] of Object.entries(deployment.spec.selector.matchLabels)) assert.equal(labels[k], v);
    }
    for (const [k, v] of Object.entries(service.spec.selector)) assert.equal(controller.spec.template.metadata.labels[k], v);
    assert.notEqual(engines.spec.template.metadata.labels["app.kubernetes.io/component"], service.spec.selector["app.kubernetes.io/component"], "the Service does not select engines");
    const volumes = controller.spec.template.spec.volumes as Doc[];
    assert.ok(volumes.some((v) => v.secret?.secretName === secret.metadata.name));
    const env = engines.spec.template.spec.containers[0].env as Doc[];
    const info = env.find((e) => e.name === CONNECTION_INFO_ENV);
    assert.ok(info, `engines set ${CONNECTION_INFO_ENV}`);
    assert.equal(info.valueFrom.secretKeyRef.name, secret.metadata.name);
    assert.ok(info.valueFrom.secretKeyRef.key in secret.stringData);
    assert.ok(Number.isInteger(engines.spec.replicas) && engines.spec.replicas > 0);
  });

  test("every flag the containers pass exists in tspengine / tspcontroller", () => {
    const engineCommand = engines.spec.template.spec.containers[0].command as string[];
    assert.equal(engineCommand[1], "tspengine");
    const engineFlags = helpFlags(bins.engine);
    for (const flag of engineCommand.filter((w) => w.startsWith("--"))) assert.ok(engineFlags.has(flag), `tspengine ${flag}`);
    assert.ok(engineCommand.includes("env"), "--connection-info env");

    const controllerCommand = controller.spec.template.spec.containers[0].command as string[];
    assert.equal(controllerCommand[1], "tspcontroller");
    const controllerFlags = helpFlags(bins.controller);
    for (const flag of controllerCommand.filter((w) => w.startsWith("--"))) assert.ok(controllerFlags.has(flag), `tspcontroller ${flag}`);
    assert.equal(controllerCommand[controllerCommand.indexOf("--location") + 1], service.metadata.name);
  });
});
