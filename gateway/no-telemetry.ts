// @apollo/gateway reads this when it is constructed and, unless it is set, probes cloud metadata
// addresses and reports usage to its vendor. This gateway never calls home, in any mode: this module
// is imported before @apollo/gateway everywhere the gateway is built, and nothing can turn it back on.
process.env.APOLLO_TELEMETRY_DISABLED = "true";
