// The e-contract engine: contracts, signers and their authentication, notifications, evidence.

export * from "./evidence/audit-trail";
export * from "./evidence/certificate";
export * from "./evidence/evidence-pack";
export * from "./notify/mailer";
export * from "./notify/messages";
export * from "./notify/sms";
