// The e-contract engine: contracts, signers and their authentication, notifications, evidence.
export * from "./config";
export * from "./evidence/audit-trail";
export * from "./evidence/certificate";
export * from "./evidence/evidence-pack";
export * from "./model";
export * from "./notify/mailer";
export * from "./notify/messages";
export * from "./notify/sms";
export * from "./runtime";
export * from "./secrets";
export * from "./service";
export * from "./state";
export * from "./store";
