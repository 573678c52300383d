import { Cluster } from "tsparallel";
process.env.TSPARALLEL_DIR = "/tmp/rt-prof";
const t0 = performance.now();
const cluster = await Cluster.start({ n: 2, profile: "rt" });
console.log("start ms", (performance.now() - t0).toFixed(0));
const rc = await cluster.connect();
const one = rc.directView(0);
for (let i = 0; i < 300; i++) await one.apply((x) => x, i);
const ts = [];
for (let i = 0; i < 500; i++) { const t = performance.now(); await one.apply((x) => x, i); ts.push(performance.now() - t); }
ts.sort((a, b) => a - b); console.log("apply rt median ms", ts[250].toFixed(3));
const ts2 = [];
for (let i = 0; i < 300; i++) { const t = performance.now(); await one.execute("1+1"); ts2.push(performance.now() - t); }
ts2.sort((a, b) => a - b); console.log("execute rt median ms", ts2[150].toFixed(3));
const lv = rc.loadBalancedView();
for (let k = 0; k < 3; k++) {
let t = performance.now(); const ars = []; for (let i = 0; i < 5000; i++) ars.push(lv.apply((x) => x, i)); await Promise.all(ars); console.log("tiny/s", (5000 / (performance.now() - t) * 1000).toFixed(0));
t = performance.now(); await lv.map((x) => x, Array.from({length: 5000}, (_, i) => i)); console.log("lbmap/s", (5000 / (performance.now() - t) * 1000).toFixed(0));
}
rc.close(); await cluster.stop();
