// What `npm run build` bundles in place of @apollo/utils.createhash (Apollo Server hashes every
// query with it). That package reaches Node's crypto through `module.require`, which a bundled
// module's wrapper lacks, and would otherwise fall back to sha.js, pure JavaScript.
import { type Hash, createHash as nodeCreateHash } from "node:crypto";

export function createHash(kind: string): Hash {
  return nodeCreateHash(kind);
}
