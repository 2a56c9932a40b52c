import type { FastifyInstance, FastifyRequest } from "fastify";
import type { SimulatorContext } from "../context";
import type { CredentialDefinition } from "../credentials";
import { decoyDigest } from "../faults";
import { requireAccessToken } from "../http/auth";
import {
  type Body,
  base64Bytes,
  jsonBody,
  optionalBoolean,
  optionalString,
  requiredPositiveInteger,
  requiredString,
  stringArray,
} from "../http/params";
import { invalidParameter, invalidRequest, missingParameter, ServiceError } from "../http/service-error";
import {
  IDEMPOTENCY_KEY_HEADER,
  IdempotencyStore,
  REPLAYED_HEADER,
  requestFingerprint,
} from "../idempotency";
import { hashByOid, OID } from "../oids";
import { signDigest } from "../signing/raw-signature";
import { type CertificatesChoice, credentialInfo } from "./credential-info";
import { checkExplicitAuthorisation } from "./explicit-authorisation";
import { resolveSignatureScheme } from "./signature-scheme";

const CSC = { groups: ["csc" as const] };
const CSC_SIGN = { groups: ["csc" as const, "sign" as const] };

function credentialFrom(context: SimulatorContext, body: Body): CredentialDefinition {
  const credential = context.credentials.get(requiredString(body, "credentialID"));
  if (!credential) throw invalidParameter("credentialID");
  return credential;
}

function certificatesChoice(body: Body): CertificatesChoice {
  const value = optionalString(body, "certificates") ?? "single";
  if (value !== "none" && value !== "single" && value !== "chain") throw invalidParameter("certificates");
  return value;
}

/** Hashes as sent (base64) and decoded, each of the length the hash algorithm gives. */
function decodedHashes(body: Body, length: number): { encoded: string[]; bytes: Buffer[] } {
  const encoded = stringArray(body, "hashes");
  const bytes = encoded.map((hash) => base64Bytes(hash, "hashes"));
  if (bytes.some((hash) => hash.length !== length)) throw invalidParameter("hashes");
  return { encoded, bytes };
}

function clientId(request: FastifyRequest): string {
  return request.sim.client!.id;
}

/** CSC API v2 under /csc/v2: service info, OAuth 2.0 client credentials, credentials, signHash. */
export function registerCscRoutes(app: FastifyInstance, context: SimulatorContext): void {
  const baseUrl = context.pki.baseUrl;
  const authenticated = { config: CSC, preHandler: requireAccessToken(context) };

  const info = async () => ({
    specs: "2.0.0.2",
    name: "esign-sim",
    logo: `${baseUrl}/healthz`,
    region: "DE",
    lang: "en-US",
    description: "E-sign API simulator (test PKI, not for production signatures)",
    authType: ["oauth2client"],
    oauth2: `${baseUrl}/csc/v2`,
    methods: [
      "oauth2/token",
      "credentials/list",
      "credentials/info",
      "credentials/authorize",
      "credentials/sendOTP",
      "signatures/signHash",
    ],
    signAlgorithms: {
      algos: [OID.sha256WithRsa, OID.rsaEncryption, OID.rsassaPss, OID.ecdsaWithSha256, OID.ecPublicKey],
    },
  });
  app.post("/csc/v2/info", { config: CSC }, info);
  app.get("/csc/v2/info", { config: CSC }, info);

  app.post("/csc/v2/oauth2/token", { config: CSC }, async (request) => {
    const body = jsonBody(request);
    if (body.grant_type !== "client_credentials") {
      throw new ServiceError(
        400,
        "unsupported_grant_type",
        "Only grant_type=client_credentials is supported",
      );
    }
    // Client authentication in the body or with HTTP Basic (RFC 6749 2.3.1).
    const basic = /^Basic\s+(\S+)$/i.exec(request.headers.authorization ?? "");
    const [basicId, basicSecret] = basic ? Buffer.from(basic[1]!, "base64").toString().split(":") : [];
    const id = typeof body.client_id === "string" ? body.client_id : basicId;
    const secret = typeof body.client_secret === "string" ? body.client_secret : basicSecret;
    const client = id && secret !== undefined ? context.clients.authenticate(id, secret) : undefined;
    if (!client) throw new ServiceError(401, "invalid_client", "Client authentication failed");
    request.sim.client = client;
    if (request.sim.logEntry) request.sim.logEntry.client = client.id;
    context.clients.admitCall(client);
    const { accessToken, expiresIn } = context.accessTokens.issue(client.id);
    return { access_token: accessToken, token_type: "Bearer", expires_in: expiresIn, scope: "service" };
  });

  app.post("/csc/v2/credentials/list", authenticated, async (request) => {
    const body = jsonBody(request);
    const credentials = [...context.credentials.values()];
    const onlyValid = optionalBoolean(body, "onlyValid", false);
    const listed = onlyValid
      ? credentials.filter((credential) => !context.isRevoked(credential.id))
      : credentials;
    const withInfo = optionalBoolean(body, "credentialInfo", false);
    return {
      credentialIDs: listed.map((credential) => credential.id),
      ...(withInfo
        ? {
            credentialInfos: listed.map((credential) => ({
              credentialID: credential.id,
              ...credentialInfo(context, credential, {
                certificates: certificatesChoice(body),
                certInfo: optionalBoolean(body, "certInfo", false),
                authInfo: optionalBoolean(body, "authInfo", false),
              }),
            })),
          }
        : {}),
      onlyValid,
    };
  });

  app.post("/csc/v2/credentials/info", authenticated, async (request) => {
    const body = jsonBody(request);
    return credentialInfo(context, credentialFrom(context, body), {
      certificates: certificatesChoice(body),
      certInfo: optionalBoolean(body, "certInfo", false),
      authInfo: optionalBoolean(body, "authInfo", false),
    });
  });

  app.post("/csc/v2/credentials/sendOTP", authenticated, async (request, reply) => {
    const credential = credentialFrom(context, jsonBody(request));
    if (!credential.otp) throw invalidRequest(`Credential ${credential.id} does not use one-time passwords`);
    context.otps.send(credential.id);
    return reply.code(204).send();
  });

  app.post("/csc/v2/credentials/authorize", authenticated, async (request) => {
    const body = jsonBody(request);
    const credential = credentialFrom(context, body);
    context.refuseIfRevoked(credential.id);
    const numSignatures = requiredPositiveInteger(body, "numSignatures");
    if (numSignatures > credential.multisign) throw invalidParameter("numSignatures");
    let hashes: string[] | undefined;
    if (body.hashes !== undefined || credential.authMode === "explicit") {
      // SCAL 2: explicit credentials authorise exactly the hashes they will sign.
      const hashAlgorithm = hashByOid(requiredString(body, "hashAlgorithmOID"));
      if (!hashAlgorithm || hashAlgorithm.name === "sha1") throw invalidParameter("hashAlgorithmOID");
      hashes = decodedHashes(body, hashAlgorithm.length).encoded;
      if (hashes.length !== numSignatures) throw invalidParameter("numSignatures");
    }
    if (credential.authMode === "explicit") checkExplicitAuthorisation(context, credential, body);
    return context.activations.issue({
      clientId: clientId(request),
      credentialId: credential.id,
      remaining: numSignatures,
      hashes: hashes && new Set(hashes),
    });
  });

  app.post("/csc/v2/signatures/signHash", { ...authenticated, config: CSC_SIGN }, async (request, reply) => {
    const body = jsonBody(request);
    const idempotencyKey = IdempotencyStore.keyOf(request.headers[IDEMPOTENCY_KEY_HEADER]);
    const credential = credentialFrom(context, body);
    const signAlgo = requiredString(body, "signAlgo");
    const hashAlgorithmOid = optionalString(body, "hashAlgorithmOID");
    const signAlgoParams = optionalString(body, "signAlgoParams");
    const { scheme, hashLength } = resolveSignatureScheme(
      credential,
      signAlgo,
      hashAlgorithmOid,
      signAlgoParams,
    );
    const hashes = decodedHashes(body, hashLength);
    if (hashes.bytes.length > credential.multisign) {
      throw invalidRequest(
        `Credential ${credential.id} signs at most ${credential.multisign} hashes per call`,
      );
    }
    const sad = optionalString(body, "SAD");
    // Implicit credentials (seals) are authorised by the access token alone; a SAD, if sent, must still be valid.
    if (sad === undefined && credential.authMode === "explicit") throw missingParameter("string", "SAD");
    // The SAD is left out: a retry brings a fresh authorization for the same signatures.
    const fingerprint = requestFingerprint("signatures/signHash", [
      credential.id,
      hashes.encoded,
      hashAlgorithmOid,
      signAlgo,
      signAlgoParams,
    ]);
    const { answer, replayed } = await context.idempotency.once(
      clientId(request),
      idempotencyKey,
      fingerprint,
      async () => {
        context.refuseIfRevoked(credential.id);
        const reservation = context.clients.reserveSignCall(request.sim.client!);
        try {
          if (sad !== undefined) {
            context.activations.use(sad, {
              clientId: clientId(request),
              credentialId: credential.id,
              hashes: hashes.encoded,
            });
          }
          const key = context.credentialCertificate(credential.id).key;
          const signatures = hashes.bytes.map((hash) =>
            signDigest(key, request.sim.fault.wrongSignature ? decoyDigest(hash) : hash, scheme).toString(
              "base64",
            ),
          );
          reservation.bill(signatures.length);
          return { signatures };
        } finally {
          reservation.release();
        }
      },
    );
    if (replayed) {
      context.usage.recordCall(clientId(request), "replays");
      reply.header(REPLAYED_HEADER, "true");
    }
    return answer;
  });
}
