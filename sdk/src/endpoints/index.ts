export { makeEndpoint, makeWebApp, type EndpointFunction, type EndpointFunctionOptions, type EndpointHandler, type EndpointOptions, type FetchApp, type WebAppOptions } from "./endpoint.ts";
