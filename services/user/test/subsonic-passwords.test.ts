// Subsonic passwords at rest: sealed under the server's key and bound to their user; the proofs apps send.
import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { openSubsonicPassword, proofMatches, sealSubsonicPassword } from "../src/subsonic-passwords";

const key = randomBytes(32);
const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");

describe("Subsonic passwords", () => {
  it("seal and open again under the same key and user, and never hold the password in clear", () => {
    const sealed = sealSubsonicPassword(key, "user-1", "sésame ouvre-toi");
    expect(sealed).not.toContain("sésame");
    expect(sealed.startsWith("v1:")).toBe(true);
    expect(openSubsonicPassword(key, "user-1", sealed)).toBe("sésame ouvre-toi");
    // Two seals of one password differ (a fresh IV each time).
    expect(sealSubsonicPassword(key, "user-1", "sésame ouvre-toi")).not.toBe(sealed);
  });

  it("do not open under another key, for another user, or damaged", () => {
    const sealed = sealSubsonicPassword(key, "user-1", "password one");
    expect(openSubsonicPassword(randomBytes(32), "user-1", sealed)).toBeUndefined();
    expect(openSubsonicPassword(key, "user-2", sealed)).toBeUndefined();
    const bytes = Buffer.from(sealed.slice(3), "base64");
    bytes[bytes.length - 1]! ^= 1;
    expect(openSubsonicPassword(key, "user-1", `v1:${bytes.toString("base64")}`)).toBeUndefined();
    expect(openSubsonicPassword(key, "user-1", "v1:AAAA")).toBeUndefined();
    expect(openSubsonicPassword(key, "user-1", "plain text")).toBeUndefined();
  });

  it("match the password itself and md5(password + salt), upper or lower case hex, and nothing else", () => {
    expect(proofMatches("pw-12345", { kind: "password", password: "pw-12345" })).toBe(true);
    expect(proofMatches("pw-12345", { kind: "password", password: "pw-1234" })).toBe(false);
    const token = md5("pw-12345" + "c19b2d");
    expect(proofMatches("pw-12345", { kind: "token", token, salt: "c19b2d" })).toBe(true);
    expect(proofMatches("pw-12345", { kind: "token", token: token.toUpperCase(), salt: "c19b2d" })).toBe(
      true,
    );
    expect(proofMatches("pw-12345", { kind: "token", token, salt: "c19b2e" })).toBe(false);
  });
});
