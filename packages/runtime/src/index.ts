export * from "./config";
export * from "./fields";
export * from "./logger";
export * from "./metrics-server";
export * from "./net";
export * from "./secrets";
export * from "./service";
export * from "./variables";
