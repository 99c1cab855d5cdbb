// The built app's size, raw and gzipped (level 9, as CloudFront and most servers send it).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const dist = new URL("../dist/", import.meta.url).pathname;
const files = [];
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path);
    else files.push(path);
  }
};
walk(dist);
let raw = 0;
let gzipped = 0;
for (const path of files.sort()) {
  const bytes = readFileSync(path);
  const zipped = gzipSync(bytes, { level: 9 }).length;
  raw += bytes.length;
  gzipped += zipped;
  console.log(`${path.slice(dist.length).padEnd(32)} ${(bytes.length / 1024).toFixed(1).padStart(7)} KiB  gzip ${(zipped / 1024).toFixed(1).padStart(6)} KiB`);
}
console.log(`${"total".padEnd(32)} ${(raw / 1024).toFixed(1).padStart(7)} KiB  gzip ${(gzipped / 1024).toFixed(1).padStart(6)} KiB`);
