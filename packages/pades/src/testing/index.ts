export * from "./ocsp";
export * from "./openssl";
export * from "./pki";
export * from "./tsa";
export * from "./validate";
