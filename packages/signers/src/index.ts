export { CmsBuildingSigner, type CmsBuildingSignerOptions } from "./cms-building-signer";
export { createP12Signer, LocalKeyProvider, type P12SignerOptions } from "./p12";
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
