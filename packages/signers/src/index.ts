export { CmsBuildingSigner, type CmsBuildingSignerOptions } from "./cms-building-signer";
export { CscProvider, type CscSignerOptions, createCscSigner } from "./csc";
export { CscClient, type CscClientOptions } from "./csc-client";
export { createEsignApiSigner, EsignApiSigner, type EsignApiSignerOptions } from "./esign-api";
export {
  type HashBatchingOptions,
  HashBatchingOptionsSchema,
  HashBatchingProvider,
  withHashBatching,
} from "./hash-batcher";
export { createP12Signer, LocalKeyProvider, type P12SignerOptions } from "./p12";
export { createPkcs11Signer, Pkcs11Provider, type Pkcs11SignerOptions } from "./pkcs11";
export type {
  LtvMaterial,
  PadesLevel,
  RawSignatureProvider,
  Signer,
  SignerDescription,
  SignRequest,
  SignResult,
  Timestamper,
} from "./types";
