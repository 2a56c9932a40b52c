export * from "./openssl";
export * from "./pki";
