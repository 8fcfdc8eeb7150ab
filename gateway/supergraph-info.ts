import { Kind, parse } from "graphql";

/** The subgraphs a supergraph routes to, by name, read from its `join__Graph` enum. */
export function subgraphUrls(supergraphSdl: string): Map<string, string> {
  const urls = new Map<string, string>();
  for (const definition of parse(supergraphSdl).definitions) {
    if (definition.kind !== Kind.ENUM_TYPE_DEFINITION || definition.name.value !== "join__Graph") continue;
    for (const value of definition.values ?? []) {
      const graph = value.directives?.find((d) => d.name.value === "join__graph");
      const name = graph?.arguments?.find((a) => a.name.value === "name")?.value;
      const url = graph?.arguments?.find((a) => a.name.value === "url")?.value;
      if (name?.kind === Kind.STRING && url?.kind === Kind.STRING) urls.set(name.value, url.value);
    }
  }
  return urls;
}
