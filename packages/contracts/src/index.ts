// The e-contract engine: contracts, signers and their authentication, notifications, evidence.
export {};
