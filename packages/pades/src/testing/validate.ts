/**
 * The shared judge (validate.sh, tamper.sh) under the names the signer tests use; the runner itself
 * lives in @esign/testkit so every package resolves `shared/` the same way.
 */
export { failuresUnderRoots as validatePdf, tamper as tamperPdf } from "@esign/testkit";
